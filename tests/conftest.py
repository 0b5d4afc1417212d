"""Shared fixtures: paths, a CLI runner, and one small trained model on the sample reused by many tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample"
SHARED_DATA = Path(os.environ.get("TEXTCNN_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_cli(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `textcnn ARGS` in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "textcnn.cli", *map(str, args)], input=input,
                          capture_output=True, text=True, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"textcnn {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def start_cli(*args, env: dict | None = None) -> subprocess.Popen:
    """Start `textcnn ARGS` in a subprocess (stdout and stderr piped), to signal or wait on."""
    return subprocess.Popen([sys.executable, "-m", "textcnn.cli", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def wait_for_checkpoint(proc: subprocess.Popen, out: Path, at_least: int = 1) -> int:
    """Poll until `textcnn train` (proc) has a checkpoint of step >= at_least in out; return the newest."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        steps = [int(p.name[5:-6]) for p in (out / "checkpoints").glob("ckpt-*.index")]
        if steps and max(steps) >= at_least:
            return max(steps)
        assert proc.poll() is None, f"training ended before step {at_least}: {proc.communicate()}"
        time.sleep(0.005)
    raise AssertionError("no checkpoint within 5 minutes")


def free_ports(n: int = 1) -> list[int]:
    """Ports free on loopback right now (all bound at once, so they differ)."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not here: {path} (set TEXTCNN_SHARED_DATA to the shared data folder)")
    return path


# A model small enough to train in seconds on the sample, good enough to beat chance clearly.
SMALL_TRAIN = dict(epochs=8, batch_size=16, seq_len=32, filter_sizes=(2, 3, 4), num_filters=64,
                   eval_every=10, checkpoint_every=10, log_every=5, early_stop_patience=0, quiet=True)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> dict[str, Path]:
    """clean -> vocab -> train on the sample once per session, through the library API."""
    from textcnn import clean, train, vocab
    from textcnn.config import CleanConfig, TrainConfig, VocabConfig

    base = tmp_path_factory.mktemp("sample_run")
    paths = {name: base / name for name in ("data", "vocab", "model")}
    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), dev=str(SAMPLE / "dev.tsv"),
                          test=str(SAMPLE / "test.tsv"), out=str(paths["data"]), quiet=True))
    vocab.run(VocabConfig(data=str(paths["data"]), out=str(paths["vocab"]), min_count=1,
                          train_word2vec=True, embedding_dim=64))
    train.run(TrainConfig(data=str(paths["data"]), vocab=str(paths["vocab"]), out=str(paths["model"]),
                          **SMALL_TRAIN))
    return paths
