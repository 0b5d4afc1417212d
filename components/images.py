"""The container images the components run in: the one place their names are made.

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
GPU_IMAGE = f"{_PREFIX}textcnn-gpu:{_tag()}"  # training
