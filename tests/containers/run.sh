#!/usr/bin/env bash
# `make e2e-containers`: build the CPU and MLflow images offline, then run the container tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${CONTAINER_CLI:-}" ]; then
  if [ -x ../shared/tools/container-setup.sh ]; then
    # No Docker engine or registry here: podman with runc and a locally built base image.
    eval "$(../shared/tools/container-setup.sh)"
  elif docker info >/dev/null 2>&1; then
    CONTAINER_CLI=docker
  elif command -v podman >/dev/null; then
    CONTAINER_CLI=podman
  else
    echo "e2e-containers: no container engine (docker or podman) here" >&2
    exit 2
  fi
fi
export CONTAINER_CLI ${BASE_IMAGE:+BASE_IMAGE}

make wheels VARIANTS="cpu mlflow"
make images VARIANTS="cpu mlflow"
.venv/bin/python -m pytest -m containers tests/containers "$@"
