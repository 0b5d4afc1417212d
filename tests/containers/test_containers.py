"""The images, run as the README shows: every step by `docker run`, MLflow in its own image, and the
pipeline through kfp.local's DockerRunner. Run by `make e2e-containers` (it builds the images)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_ports

pytestmark = pytest.mark.containers
CLI = os.environ.get("CONTAINER_CLI", "docker")
VERSION = re.search(r'__version__ = "(.*)"', (ROOT / "textcnn" / "__init__.py").read_text()).group(1)
CPU, MLFLOW = f"textcnn:{VERSION}", f"textcnn-mlflow:{VERSION}"


def engine(*args, check=True, **kw):
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=check, **kw)


@pytest.fixture(scope="module", autouse=True)
def images_built():
    for image in (CPU, MLFLOW):
        if engine("image", "inspect", image, check=False).returncode != 0:
            pytest.skip(f"{image} is not built; run `make e2e-containers`")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """The tracking server in the textcnn-mlflow image, on this machine's loopback."""
    store = tmp_path_factory.mktemp("mlflow_server")
    (port,) = free_ports()
    name = f"textcnn-e2e-mlflow-{port}"
    engine("run", "-d", "--rm", "--name", name, "--network", "host", "--user", f"{os.getuid()}:{os.getgid()}",
           "-v", f"{store}:/data", MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", "sqlite:////data/mlflow.db", "--artifacts-destination", "/data/artifacts")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                logs = engine("logs", name, check=False).stdout
                engine("stop", name, check=False)
                pytest.fail(f"the MLflow image did not serve: {logs[-2000:]}")
            time.sleep(2)
    yield url
    engine("stop", name, check=False)


def test_images_are_lean_non_root_and_labelled():
    (info,) = json.loads(engine("image", "inspect", CPU).stdout)
    config = info["Config"]
    assert config["User"] == "10001:10001" and config["Entrypoint"] == ["textcnn"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION and labels["org.opencontainers.image.source"]
    probe = engine("run", "--rm", "--entrypoint", "sh", CPU, "-c",
                   "id -u; ls /wheelhouse /src 2>/dev/null | wc -l; ls ~/.cache/pip 2>/dev/null | wc -l;"
                   " command -v gcc cc | wc -l; textcnn --version").stdout.split()
    assert probe == ["10001", "0", "0", "0", "textcnn", VERSION]
    assert engine("run", "--rm", "--entrypoint", "python", MLFLOW, "-c", "import mlflow, psycopg2, boto3; print(mlflow.__version__)").stdout.strip() == "3.17.2"


def readme_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Rerun one step locally")
    return re.search(r"```sh\n(.*?)```", readme[start:], re.S).group(1)


def test_the_readme_docker_run_lines_run_every_step(tmp_path, mlflow_server):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = f'docker() {{ {CLI} "$@"; }}\nset -euo pipefail\n' + readme_block()
    assert script.count("docker run") == 6
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = tmp_path / "work"
    steps = {"data": "clean", "vocab": "vocab", "model": "train", "eval": "evaluate", "export": "export"}
    for folder, step in steps.items():
        assert json.loads((work / folder / "textcnn.json").read_text())["step"] == step
    assert (work / "data" / "train.parquet").stat().st_uid == os.getuid()  # --user: the outputs are yours
    assert (work / "model" / "model.keras").exists() and (work / "export" / "1" / "saved_model.pb").exists()
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.5
    predictions = [line.split("\t") for line in proc.stdout.splitlines() if line.count("\t") == 1]
    assert [p[0] for p in predictions] == ["体育", "财经"]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("textcnn-docker")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "train" and run.info.status == "FINISHED"
    assert run.data.params["seq_len"] == "32" and run.data.metrics["best_dev_accuracy"] > 0.2
    assert {"model.keras", "tensorboard", "history.json"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_the_pipeline_runs_in_the_images_through_the_docker_api(tmp_path, mlflow_server):
    """kfp.local.DockerRunner against a Docker engine, or podman's Docker-compatible socket."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "TEXTCNN_GPU_IMAGE": CPU}
    service = None
    if CLI == "podman":
        socket_path = tmp_path / "podman.sock"
        service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{socket_path}"],
                                   start_new_session=True)
        for _ in range(60):
            if socket_path.exists():
                break
            time.sleep(0.5)
        env["DOCKER_HOST"] = f"unix://{socket_path}"
        env["TEXTCNN_REGISTRY"] = "localhost"  # podman names local images localhost/NAME
        env["TEXTCNN_GPU_IMAGE"] = f"localhost/{CPU}"
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "textcnn-pipeline"), "run", "--runner", "docker",
                               "--workspace", str(tmp_path / "ws"), "--param", "epochs=2", "--param", "seq_len=32",
                               "--param", "num_filters=32", "--param", "min_count=1"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        if service:
            os.killpg(service.pid, signal.SIGTERM)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "exported model:" in out and "registered as textcnn/" in out
    assert re.search(r"Found image '(localhost/)?textcnn:", out)  # the tasks ran in the image, not here
    pipeline_dir = Path(re.search(r"task outputs: (\S+)", out).group(1))
    assert (pipeline_dir / "export" / "saved_model" / "1" / "saved_model.pb").exists()


def test_every_step_runs_on_a_read_only_root_filesystem(tmp_path):
    """As the Kubernetes manifests run it (readOnlyRootFilesystem, an emptyDir at /tmp): nothing but
    /tmp and the mounted work folder is written."""
    shutil.copytree(ROOT / "examples" / "sample", tmp_path / "sample")
    base = ["run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", f"{os.getuid()}:{os.getgid()}",
            "-v", f"{tmp_path}:/work", CPU]
    steps = [["clean", "--train", "/work/sample/train.tsv", "--dev", "/work/sample/dev.tsv", "--test",
              "/work/sample/test.tsv", "--out", "/work/data", "--tokenizer", "jieba"],
             ["vocab", "--data", "/work/data", "--out", "/work/vocab", "--min-count", "1"],
             ["train", "--data", "/work/data", "--vocab", "/work/vocab", "--out", "/work/model", "--seq-len", "32",
              "--epochs", "1", "--num-filters", "16"],
             ["evaluate", "--data", "/work/data", "--vocab", "/work/vocab", "--model", "/work/model", "--out",
              "/work/eval"],
             ["export", "--model", "/work/model", "--vocab", "/work/vocab", "--out", "/work/export"]]
    for step in steps:
        proc = engine(*base, *step, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "Read-only file system" not in proc.stderr, proc.stderr[-2000:]
    assert (tmp_path / "export" / "1" / "saved_model.pb").exists()
