"""`textcnn train` killed for real: SIGTERM (what Kubernetes sends first) and SIGKILL (what follows),
then the same command with --resume. On CPU TensorFlow's op determinism makes the resumed model
equal the uninterrupted one weight for weight, so that is what is checked."""

from __future__ import annotations

import json
import random
import re
import signal
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import run_cli, start_cli, wait_for_checkpoint

STEPS_PER_EPOCH, EPOCHS, EVERY = 19, 6, 3  # 300 sample lines in batches of 16; a checkpoint every 3 steps


def train_args(sample_run, out: Path) -> list[str]:
    return ["train", "--data", sample_run["data"], "--vocab", sample_run["vocab"], "--out", out,
            "--epochs", EPOCHS, "--batch-size", 16, "--seq-len", 32, "--filter-sizes", "2,3,4",
            "--num-filters", 16, "--checkpoint-every", EVERY, "--eval-every", 1000, "--log-every", 1,
            "--early-stop-patience", 0, "--quiet"]


def weights(out: Path) -> list[np.ndarray]:
    return keras.saving.load_model(out / "model.keras", safe_mode=True).get_weights()


@pytest.fixture(scope="module")
def uninterrupted(sample_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "model"
    run_cli(*train_args(sample_run, out))
    return out


def assert_same_training(resumed: Path, reference: Path) -> None:
    for got, want in zip(weights(resumed), weights(reference), strict=True):
        np.testing.assert_array_equal(got, want)
    steps = [r["step"] for r in json.loads((resumed / "history.json").read_text())["train"]]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))  # every step once: none repeated, none lost


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(sample_run, uninterrupted, tmp_path):
    out = tmp_path / "model"
    proc = start_cli(*train_args(sample_run, out))
    wait_for_checkpoint(proc, out, EVERY)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    stopped = int(re.search(r"stopped by SIGTERM at step (\d+), checkpoint saved", stderr).group(1))
    assert "rerun the same command with --resume" in stderr
    assert (out / "checkpoints" / f"ckpt-{stopped}.index").exists()  # saved where it stopped, not before
    assert not (out / "textcnn.json").exists()  # not a finished output
    run_cli(*train_args(sample_run, out), "--resume")
    assert_same_training(out, uninterrupted)


def test_sigkill_at_a_random_step_then_resume(sample_run, uninterrupted, tmp_path):
    threshold = random.Random().randrange(EVERY, EPOCHS * STEPS_PER_EPOCH - 4 * EVERY, EVERY)
    out = tmp_path / "model"
    proc = start_cli(*train_args(sample_run, out))
    seen = wait_for_checkpoint(proc, out, threshold)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"killed after checkpoint {seen}"
    assert not (out / "textcnn.json").exists()
    resumed = run_cli(*train_args(sample_run, out), "--resume")
    assert resumed.returncode == 0
    assert_same_training(out, uninterrupted)
