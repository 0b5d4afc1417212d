"""A real `mlflow server` on loopback goes away while `textcnn train --mlflow-experiment` runs.
Back within the retry window: the step finishes and every metric reaches the server. Gone for
good: one clear error at the end, and the step's outputs are complete all the same."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_ports, start_cli, wait_for_checkpoint

BIN = Path(sys.executable).parent


class Server:
    """`mlflow server` with a SQLite store in a folder, stoppable and startable on the same port."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_ports()[0], None
        self.uri = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.folder / "server.log").open("a")
        self.proc = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--artifacts-destination", str(self.folder / "artifacts")],
            stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2)
                return
            except OSError:
                assert self.proc.poll() is None, (self.folder / "server.log").read_text()[-2000:]
                time.sleep(0.5)
        raise AssertionError("mlflow server did not come up")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # gone at once, as a crashed pod
        self.proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    s.start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def start_training(sample_run, out: Path, uri: str, **env) -> subprocess.Popen:
    args = ["train", "--data", sample_run["data"], "--vocab", sample_run["vocab"], "--out", out, "--epochs", 12,
            "--batch-size", 16, "--seq-len", 32, "--filter-sizes", "2,3,4", "--num-filters", 16,
            "--checkpoint-every", 5, "--eval-every", 1000, "--log-every", 2, "--early-stop-patience", 0, "--quiet",
            "--mlflow-experiment", "outage"]
    return start_cli(*args, env={"MLFLOW_TRACKING_URI": uri, **env})


def test_a_server_back_within_the_retries_gets_every_metric(sample_run, server, tmp_path):
    import mlflow

    out = tmp_path / "model"
    proc = start_training(sample_run, out, server.uri)
    wait_for_checkpoint(proc, out)
    server.stop()
    time.sleep(3)
    server.start()
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    history = json.loads((out / "history.json").read_text())
    client = mlflow.MlflowClient(server.uri)
    run = client.search_runs([client.get_experiment_by_name("outage").experiment_id])[0]
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == len(history["train"]) > 0
    assert run.data.metrics["steps"] == history["summary"]["steps"]


def test_a_server_gone_for_good_is_one_clear_error_and_the_outputs_stay(sample_run, server, tmp_path):
    out = tmp_path / "model"
    proc = start_training(sample_run, out, server.uri, MLFLOW_HTTP_REQUEST_MAX_RETRIES="2",
                          MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
    wait_for_checkpoint(proc, out)
    server.stop()
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert f"MLflow at {server.uri} did not take the train step's results" in lines[0]
    assert f"its outputs are complete in {out}" in lines[0] and "train resumes from its checkpoints" in lines[0]
    assert (out / "textcnn.json").exists() and (out / "model.keras").exists()  # every output written


def test_a_step_waits_for_a_server_that_is_still_starting(sample_run, tmp_path):
    late = Server(tmp_path)
    out = tmp_path / "model"
    proc = start_training(sample_run, out, late.uri, TEXTCNN_MLFLOW_WAIT="120")
    time.sleep(3)
    late.start()
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        late.stop()
    assert proc.returncode == 0, stderr
    assert f"MLflow at {late.uri} does not answer" in stderr and "trying again for up to 120 s" in stderr
    assert (out / "textcnn.json").exists()
