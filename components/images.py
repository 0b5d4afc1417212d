"""The container images: the one place their names are made (components, `make images`).

TEXTCNN_REGISTRY prefixes them (e.g. `ghcr.io/acme`), TEXTCNN_IMAGE_TAG overrides the tag,
which is otherwise the textcnn package version. Standard library only.
"""

import os
from importlib.metadata import PackageNotFoundError, version


def _tag() -> str:
    try:
        return os.environ.get("TEXTCNN_IMAGE_TAG") or version("textcnn")
    except PackageNotFoundError:
        return "latest"


_REGISTRY = os.environ.get("TEXTCNN_REGISTRY", "").rstrip("/")
_PREFIX = f"{_REGISTRY}/" if _REGISTRY else ""

CPU_IMAGE = f"{_PREFIX}textcnn:{_tag()}"      # data steps, evaluation, export
# Training; TEXTCNN_GPU_IMAGE may point it elsewhere, e.g. at the CPU image on a cluster without GPUs.
GPU_IMAGE = os.environ.get("TEXTCNN_GPU_IMAGE") or f"{_PREFIX}textcnn-gpu:{_tag()}"
MLFLOW_IMAGE = f"{_PREFIX}textcnn-mlflow:{_tag()}"  # the tracking server of manifests/
IMAGES = {"cpu": CPU_IMAGE, "gpu": GPU_IMAGE, "mlflow": MLFLOW_IMAGE}
