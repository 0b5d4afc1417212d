"""The six CLI steps on examples/sample, as the README shows them, plus every documented failure."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, run_cli

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make demo-cli` into a temporary folder: the five steps and predict, as the README shows them."""
    run = tmp_path_factory.mktemp("demo_cli") / "sample"
    proc = subprocess.run(["make", "--no-print-directory", "demo-cli", f"DEMO={run}", f"BIN={BIN}", "STAMP="],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run, proc.stdout


def test_make_demo_cli_goes_through_all_six_steps(demo):
    run, stdout = demo
    for step in ("clean", "vocab", "train", "evaluate", "export"):
        assert json.loads((run / {"clean": "data", "vocab": "vocab", "train": "model", "evaluate": "eval",
                                  "export": "export"}[step] / "textcnn.json").read_text())["step"] == step
    assert "clean: train 300, dev 80, test 80 examples, 5 labels; rejected 0 of 460 lines" in stdout
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert f"evaluate: test accuracy {metrics['accuracy']:.4f}" in stdout
    assert metrics["accuracy"] > 0.6  # chance is 0.2
    predictions = [line.split("\t") for line in stdout.splitlines() if line.count("\t") == 3]
    assert [p[0] for p in predictions] == ["体育", "财经"]


def test_saved_model_cli_lists_the_signature(demo):
    run, _ = demo
    out = subprocess.run([str(BIN / "saved_model_cli"), "show", "--dir", str(run / "export" / "1"),
                          "--tag_set", "serve", "--signature_def", "serving_default"],
                         capture_output=True, text=True, check=True).stdout
    assert "inputs['text'] tensor_info:" in out and "dtype: DT_STRING" in out
    for name in ("label", "label_id", "probabilities"):
        assert f"outputs['{name}'] tensor_info:" in out


def test_predict_answers_raw_chinese_text_on_stdin(demo):
    run, _ = demo
    proc = run_cli("predict", "--model", run / "export", "-", input="湖人队主场击败勇士队\n教育部公布高考报名人数\n")
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [len(r) for r in rows] == [2, 2] and 0 < float(rows[0][1]) <= 1
    assert rows[0][0] == "体育" and rows[1][0] == "教育"


def test_every_subcommand_documents_its_options():
    for step in ("clean", "vocab", "train", "evaluate", "export", "predict"):
        out = run_cli(step, "--help").stdout
        assert "--config YAML" in out and "--quiet" in out
    train_help = run_cli("train", "--help").stdout
    assert "(default: 2,3,4,5)" in train_help and "(default: non-static)" in train_help


def test_yaml_config_and_flags(tmp_path):
    (tmp_path / "c.yaml").write_text(f"clean:\n  train: {SAMPLE / 'train.tsv'}\n  dev-ratio: 0.5\n", encoding="utf-8")
    out = run_cli("clean", "--config", tmp_path / "c.yaml", "--out", tmp_path / "d", "--quiet").stdout
    assert "train 150, dev 150" in out


# --- failures: one line on stderr, exit 2 (1 for the accuracy gate), no traceback, no manifest ---

def fails(*args, code=2, match=""):
    proc = run_cli(*args, check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert match in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """A finished clean and vocab output on the sample, for the failure cases of later steps."""
    base = tmp_path_factory.mktemp("steps")
    run_cli("clean", "--train", SAMPLE / "train.tsv", "--test", SAMPLE / "test.tsv", "--out", base / "data", "--quiet")
    run_cli("vocab", "--data", base / "data", "--out", base / "vocab", "--min-count", "1")
    return base


def test_clean_failures(tmp_path):
    fails("clean", "--train", tmp_path / "nope.tsv", "--out", tmp_path / "o", match="nope.tsv: file not found")
    (tmp_path / "empty.tsv").write_text("")
    fails("clean", "--train", tmp_path / "empty.tsv", "--out", tmp_path / "o", match="empty.tsv: file is empty")
    (tmp_path / "a.csv").write_text("label,body\n体育,国足\n", encoding="utf-8")
    line = fails("clean", "--train", tmp_path / "a.csv", "--format", "csv", "--out", tmp_path / "o",
                 match="a.csv:1: no column 'text' in the header (columns: label, body)")
    assert "--text-col" in line
    (tmp_path / "bad.tsv").write_text("体育 国足\n" * 5 + "体育\t国足\n" * 5, encoding="utf-8")
    fails("clean", "--train", tmp_path / "bad.tsv", "--out", tmp_path / "o",
          match="bad.tsv: 5 of 10 lines rejected (50.0%, mostly no_tab")
    (tmp_path / "unknown.tsv").write_text("天气\t明天有雨\n" * 3, encoding="utf-8")
    fails("clean", "--train", SAMPLE / "train.tsv", "--test", tmp_path / "unknown.tsv", "--out", tmp_path / "o",
          "--max-reject-ratio", "1", match="unknown.tsv: the test split is empty")
    fails("clean", "--train", SAMPLE / "train.tsv", "--out", tmp_path / "o", "--dev-ratio", "1.5",
          match="--dev-ratio must be between 0 and 1")
    assert not (tmp_path / "o" / "textcnn.json").exists()


def test_usage_errors_exit_2(tmp_path):
    proc = run_cli("train", "--epochs", "many", check=False)
    assert proc.returncode == 2 and "--epochs must be a whole number" in proc.stderr
    fails("train", "--data", tmp_path, match="train needs --vocab")


def test_vocab_failures(steps, tmp_path):
    fails("vocab", "--data", steps / "data", "--out", tmp_path / "v", "--min-count", "1000",
          match="no token occurs at least 1000 times")
    (tmp_path / "v1.txt").write_text("hello\n国 0.1\n", encoding="utf-8")
    fails("vocab", "--data", steps / "data", "--out", tmp_path / "v", "--pretrained", tmp_path / "v1.txt",
          match="v1.txt:1: bad header")
    (tmp_path / "v2.txt").write_text("2 3\n国 0.1 0.2 0.3\n新 0.1 0.2\n", encoding="utf-8")
    fails("vocab", "--data", steps / "data", "--out", tmp_path / "v", "--pretrained", tmp_path / "v2.txt",
          match="v2.txt:3: 2 values where the header says 3")
    fails("vocab", "--data", steps / "vocab", "--out", tmp_path / "v",
          match="is the output of `textcnn vocab`, not of `textcnn clean`")


def test_train_failures(steps, tmp_path):
    fails("train", "--data", steps / "data", "--vocab", steps / "vocab", "--out", tmp_path / "m", "--seq-len", "4",
          match="--seq-len 4 is shorter than the widest filter (5)")
    fails("train", "--data", steps / "data", "--vocab", steps / "data", "--out", tmp_path / "m",
          match="is the output of `textcnn clean`, not of `textcnn vocab`")
    old = tmp_path / "old_vocab"
    shutil.copytree(steps / "vocab", old)
    manifest = json.loads((old / "textcnn.json").read_text())
    (old / "textcnn.json").write_text(json.dumps({**manifest, "format": 0, "textcnn_version": "0.0.1"}))
    fails("train", "--data", steps / "data", "--vocab", old, "--out", tmp_path / "m",
          match="written by textcnn 0.0.1 in format 0")


def test_evaluate_and_export_failures(steps, tmp_path):
    fails("evaluate", "--data", steps / "data", "--vocab", steps / "vocab", "--model", steps / "vocab",
          "--out", tmp_path / "e", match="is the output of `textcnn vocab`, not of `textcnn train`")
    fails("export", "--model", tmp_path / "missing", "--vocab", steps / "vocab", "--out", tmp_path / "x",
          match="missing: no such folder")


def test_export_refuses_an_existing_version_and_gates_on_accuracy(demo, tmp_path):
    run, _ = demo
    fails("export", "--model", run / "model", "--vocab", run / "vocab", "--out", run / "export", "--version", "1",
          match="already holds version 1")
    fails("export", "--model", run / "model", "--vocab", run / "vocab", "--out", tmp_path / "x",
          "--metrics", run / "eval", "--min-accuracy", "1.01", code=1, match="is below --min-accuracy 1.01")
    assert not (tmp_path / "x").exists()


def test_predict_failures(tmp_path):
    fails("predict", "--model", tmp_path, match="no exported model here")
