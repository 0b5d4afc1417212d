import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from textcnn import evaluate
from textcnn.config import EvaluateConfig
from textcnn.errors import TextcnnError
from textcnn.metrics import classification_metrics


def test_metrics_match_scikit_learn_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0, 2]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, probs, 3, beta=2.0)
    y_pred = probs.argmax(1)
    assert m["accuracy"] == pytest.approx(5 / 7) == accuracy_score(y, y_pred)
    assert m["macro_f1"] == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, y_pred, average="weighted"))
    assert m["beta"] == 2.0 and 0 < m["macro_fbeta"] < 1
    assert m["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(7), y])))


@pytest.fixture(scope="module")
def evaluated(sample_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval"
    metrics = evaluate.run(EvaluateConfig(data=str(sample_run["data"]), vocab=str(sample_run["vocab"]),
                                          model=str(sample_run["model"]), out=str(out), top_mistakes=5))
    return out, metrics


def test_outputs_agree_with_each_other(evaluated):
    out, metrics = evaluated
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["split"] == "test" and metrics["examples"] == 80
    for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "macro_fbeta"):
        assert 0.0 <= metrics[key] <= 1.0
    assert set(metrics["per_class"]) == {"体育", "娱乐", "教育", "科技", "财经"}
    rows = [line.split("\t") for line in (out / "predictions.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["line", "text", "true", "predicted", "probability"] and len(rows) == 81
    assert np.mean([r[2] == r[3] for r in rows[1:]]) == pytest.approx(metrics["accuracy"])
    matrix = [line.split(",") for line in (out / "confusion_matrix.csv").read_text(encoding="utf-8").splitlines()]
    assert matrix[0][1:] == ["体育", "娱乐", "教育", "科技", "财经"]
    counts = np.array([[int(c) for c in r[1:]] for r in matrix[1:]])
    assert counts.sum() == 80 and np.trace(counts) / 80 == pytest.approx(metrics["accuracy"])
    mistakes = (out / "mistakes.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(mistakes) == min(5, 80 - np.trace(counts))
    assert all(r.split("\t")[2] != r.split("\t")[3] for r in mistakes)
    assert "体育" in (out / "classification_report.txt").read_text(encoding="utf-8")
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_png_draws_chinese_class_names(tmp_path):
    labels = ["体育", "财经"]
    if evaluate.font_for(labels) is None:
        pytest.skip("no font with Chinese glyphs here (Debian: apt install fonts-wqy-microhei)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), labels, tmp_path / "m.png")
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_without_a_cjk_font_the_plot_falls_back_to_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "font_for", lambda labels: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["体育", "财经"], tmp_path / "m.png")
    assert not [w for w in caught if "missing from" in str(w.message)]
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_model_and_vocab_must_belong_together(sample_run, tmp_path):
    from textcnn import vocab
    from textcnn.config import VocabConfig

    vocab.run(VocabConfig(data=str(sample_run["data"]), out=str(tmp_path / "other"), min_count=3))
    with pytest.raises(TextcnnError, match="was trained with another vocabulary"):
        evaluate.run(EvaluateConfig(data=str(sample_run["data"]), vocab=str(tmp_path / "other"),
                                    model=str(sample_run["model"]), out=str(tmp_path / "e")))
    with pytest.raises(TextcnnError, match="is the output of `textcnn vocab`, not of `textcnn train`"):
        evaluate.run(EvaluateConfig(data=str(sample_run["data"]), vocab=str(sample_run["vocab"]),
                                    model=str(sample_run["vocab"]), out=str(tmp_path / "e")))


def test_missing_split(sample_run, tmp_path):
    from textcnn import clean
    from textcnn.config import CleanConfig
    from tests.conftest import SAMPLE

    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), dev=str(SAMPLE / "dev.tsv"), out=str(tmp_path / "d"),
                          quiet=True))
    with pytest.raises(TextcnnError, match="there is no test split; pass --test to `textcnn clean`"):
        evaluate.run(EvaluateConfig(data=str(tmp_path / "d"), vocab=str(sample_run["vocab"]),
                                    model=str(sample_run["model"]), out=str(tmp_path / "e")))
