"""tf.distribute for real: two worker processes on localhost (MultiWorkerMirroredStrategy, TF_CONFIG
as a TFJob sets it) train on the sample, and MirroredStrategy on this machine's one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, free_ports, run_cli

SETTINGS = ["--epochs", 6, "--batch-size", 32, "--seq-len", 32, "--filter-sizes", "2,3,4", "--num-filters", 32,
            "--eval-every", 1000, "--checkpoint-every", 4, "--early-stop-patience", 0, "--quiet"]


def train_args(sample_run, out: Path, *extra) -> list[str]:
    return ["train", "--data", sample_run["data"], "--vocab", sample_run["vocab"], "--out", out, *SETTINGS, *extra]


def best(out: Path) -> float:
    return json.loads((out / "best.json").read_text())["accuracy"]


def test_two_workers_on_localhost_train_like_one(sample_run, tmp_path):
    single = tmp_path / "single"
    run_cli(*train_args(sample_run, single))

    shared = tmp_path / "shared"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TMPDIR": str(tmp_path)}
        workers.append(subprocess.Popen([sys.executable, "-m", "textcnn.cli",
                                         *map(str, train_args(sample_run, shared, "--distribute", "multi-worker"))],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [w.communicate(timeout=900) for w in workers]
    for w, (stdout, stderr) in zip(workers, results):
        assert w.returncode == 0, stderr[-3000:]

    history = json.loads((shared / "history.json").read_text())
    assert history["summary"]["steps"] == 6 * (300 // 32)  # whole global batches of 32, 16 per worker
    assert (shared / "textcnn.json").exists() and (shared / "model.keras").exists()
    assert list((shared / "checkpoints").glob("ckpt-*.index"))
    assert not list(tmp_path.glob("textcnn-worker1-*"))  # the other worker's copies are gone
    assert best(shared) > 0.6 and best(single) > 0.6  # both learn (chance: 0.2)
    assert abs(best(shared) - best(single)) <= 0.15  # and alike, within the noise of an 80-example dev set


def test_mirrored_on_this_machine(sample_run, tmp_path):
    out = tmp_path / "mirrored"
    run_cli(*train_args(sample_run, out, "--distribute", "mirrored"))
    history = json.loads((out / "history.json").read_text())
    assert history["summary"]["steps"] == 6 * (300 // 32) and best(out) > 0.6
