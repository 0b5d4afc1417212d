"""Shared by the pipeline tests: four local pipeline runs logged to one MLflow store."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE

BIN = Path(sys.executable).parent
WEAK = ["--param", "epochs=1", "--param", "num_filters=16", "--param", "filter_sizes=2,3", "--param", "seq_len=32",
        "--param", "min_count=1"]


def run_pipeline(env, *args, make=False):
    if make:
        cmd = ["make", "--no-print-directory", "run", f"BIN={BIN}", "STAMP=", f"WORKSPACE={env['WORKSPACE']}"]
    else:
        cmd = [str(BIN / "textcnn-pipeline"), "run", "--workspace", env["WORKSPACE"], *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    run_id = re.search(r"MLflow run: (\w+)", text).group(1)
    pipeline_dir = Path(re.search(r"task outputs: (\S+)", text).group(1))
    return {"out": text, "run_id": run_id, "dir": pipeline_dir}


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{base}/mlflow.db", "WORKSPACE": str(base / "runs")}
    runs = {
        "weak": run_pipeline(env, *WEAK),
        "make_run": run_pipeline(env, make=True),
        "weak_again": run_pipeline(env, *WEAK),
        # Files named one by one, with pretrained vectors wired in; stopped by the gate.
        "gated": run_pipeline(env, "--train", str(SAMPLE / "train.tsv"), "--dev", str(SAMPLE / "dev.tsv"),
                              "--test", str(SAMPLE / "test.tsv"), "--pretrained", str(_vectors(base)),
                              *WEAK, "--param", "min_accuracy=1.01"),
    }
    return {"base": base, "db": base / "mlflow.db", "uri": env["MLFLOW_TRACKING_URI"], "runs": runs}


def _vectors(base: Path) -> Path:
    """A small word2vec text file for the sample's most common characters."""
    import numpy as np

    chars = "新国学赛高生人发中布上手出公大开行业成校"
    rows = np.random.default_rng(0).normal(size=(len(chars), 8)).round(4)
    path = base / "vectors.txt"
    path.write_text(f"{len(chars)} 8\n" + "".join(f"{c} " + " ".join(map(str, r)) + "\n" for c, r in zip(chars, rows)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def client(store):
    import mlflow

    mlflow.set_tracking_uri(store["uri"])
    return mlflow.MlflowClient()


