"""Real data: THUCNews titles with the reference configuration must reach the PyTorch reference's accuracy."""

import json

import pytest

from tests.conftest import run_cli, shared

pytestmark = pytest.mark.slow
TARGET = 0.8775  # 649453932's PyTorch TextCNN on the same 45k split, measured on these machines


def test_reference_configuration_reaches_the_pytorch_accuracy(tmp_path):
    thucnews = shared("thucnews")
    vectors = shared("vectors", "tencent_ailab.200d.thucnews-chars.txt")
    config = "examples/thucnews.yaml"
    run_cli("clean", "--config", config, "--train", thucnews / "train_first45k.tsv", "--dev", thucnews / "dev.tsv",
            "--test", thucnews / "test.tsv", "--out", tmp_path / "data", "--quiet")
    run_cli("vocab", "--config", config, "--data", tmp_path / "data", "--out", tmp_path / "vocab",
            "--pretrained", vectors)
    run_cli("train", "--config", config, "--data", tmp_path / "data", "--vocab", tmp_path / "vocab",
            "--out", tmp_path / "model", "--quiet")
    run_cli("evaluate", "--data", tmp_path / "data", "--vocab", tmp_path / "vocab", "--model", tmp_path / "model",
            "--out", tmp_path / "eval")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["examples"] == 10000
    assert metrics["accuracy"] >= TARGET, metrics["accuracy"]
    run_cli("export", "--model", tmp_path / "model", "--vocab", tmp_path / "vocab", "--out", tmp_path / "export",
            "--metrics", tmp_path / "eval", "--min-accuracy", str(TARGET))
    out = run_cli("predict", "--model", tmp_path / "export",
                  input="詹姆斯砍下40分率队逆转\n教育部：今年高考报名人数再创新高\n")
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["体育", "教育"]
