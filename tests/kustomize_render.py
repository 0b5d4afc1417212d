"""A small, faithful kustomize: what this repository's kustomizations use, and nothing else.

Supports `resources` (files and folders), `namespace`, and `secretGenerator` from env files with
`generatorOptions.disableNameSuffixHash`; any other field is an error rather than silently
ignored. tests/unit/test_manifests.py checks it against the real `kustomize` where one is found.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "secretGenerator", "generatorOptions"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}


def render(folder: str | Path) -> list[dict]:
    folder = Path(folder)
    k = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(k) - SUPPORTED
    if unsupported:
        raise ValueError(f"{folder}: this renderer does not support {sorted(unsupported)}")
    docs: list[dict] = []
    for entry in k.get("resources", []):
        path = folder / entry
        docs += render(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    generators = k.get("secretGenerator", [])
    if generators and not k.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise ValueError(f"{folder}: name-hash suffixes are not supported")
    for gen in generators:
        data = {}
        for env in gen.get("envs", []):
            for line in (folder / env).read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    data[key] = base64.b64encode(value.encode()).decode()
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": gen["name"]},
                     "type": "Opaque", "data": data})
    if k.get("namespace"):
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
    return docs
