"""Print the pinned requirements of an image variant, from pyproject.toml (the one list of pins).

    python images/requirements.py cpu      # the package's dependencies as they are
    python images/requirements.py gpu      # tensorflow-cpu swapped for tensorflow[and-cuda]
    python images/requirements.py mlflow   # the MLflow tracking server: mlflow + PostgreSQL and S3 clients

Standard library only: it runs on the host (for `make wheels`) and inside image builds.
"""

import sys
import tomllib
from pathlib import Path

# The MLflow server's extras: its PostgreSQL backend store and MinIO/S3 artifact store.
SERVER_EXTRAS = ["psycopg2-binary==2.9.13", "boto3==1.44.8"]


def requirements(variant: str) -> list[str]:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]
    if variant == "cpu":
        return deps
    if variant == "gpu":
        return [d.replace("tensorflow-cpu==", "tensorflow[and-cuda]==") for d in deps]
    if variant == "mlflow":
        return [d for d in deps if d.split("==")[0] == "mlflow"] + SERVER_EXTRAS
    raise SystemExit(f"unknown image variant {variant!r}: cpu, gpu or mlflow")


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1] if len(sys.argv) > 1 else "cpu")))
