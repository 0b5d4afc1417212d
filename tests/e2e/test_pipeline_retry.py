"""A retried train task resumes: the local pipeline with a retry policy and a checkpoint workspace,
whose train process gets SIGTERM (what Kubernetes sends an evicted pod) in the middle of training.
kfp.local runs the same retry policy and workspace that a cluster would (a PVC there)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.e2e.conftest import BIN, WEAK

EPOCHS = 8


def train_processes() -> list[int]:
    """Python processes running the train component (kfp's executor_main ... --function_to_execute train)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kfp.dsl.executor_main" in args and args[-3:-1] == [b"--function_to_execute", b"train"]:
            found.append(int(proc.name))
    return found


def test_a_terminated_train_task_is_retried_and_resumes(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    cmd = [str(BIN / "textcnn-pipeline"), "run", "--workspace", str(tmp_path / "runs"), *WEAK,
           "--param", f"epochs={EPOCHS}", "--param", "checkpoint_every=3", "--param", "log_every=1",
           "--param", "early_stop_patience=0", "--retries", "1", "--retry-backoff", "0",
           "--checkpoint-workspace", "1Gi"]
    run = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    checkpoints = tmp_path / "runs" / "workspace" / "textcnn-train"
    deadline, signalled = time.monotonic() + 600, None
    while signalled is None and time.monotonic() < deadline and run.poll() is None:
        found = list(checkpoints.glob("*/checkpoints/ckpt-*.index"))
        pids = train_processes()
        if found and pids:
            os.kill(pids[0], signal.SIGTERM)
            signalled = max(int(p.name[5:-6]) for p in found)
        time.sleep(0.01)
    out, _ = run.communicate(timeout=600)
    assert signalled is not None, "train finished before it could be stopped:\n" + out[-3000:]
    assert run.returncode == 0, out[-4000:]
    stopped = int(re.search(r"stopped by SIGTERM at step (\d+)", out).group(1))  # the first attempt's line
    assert stopped >= signalled
    assert f"resumed from step {stopped} " in out  # the retry continued from the checkpoint saved on SIGTERM
    assert "textcnn pipeline finished" in out

    model = next((tmp_path / "runs" / "outputs").glob("textcnn-*/train/model"))
    history = json.loads((model / "history.json").read_text())
    steps = [r["step"] for r in history["train"]]
    assert steps == list(range(1, steps[-1] + 1)) and len(history["epochs"]) == EPOCHS  # no step twice or lost
    assert (model / "textcnn.json").exists() and (model / "model.keras").exists()
    assert sorted(p.name for p in (model / "checkpoints").glob("ckpt-*.index"))  # copied out of the workspace
