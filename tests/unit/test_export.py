import io
import json

import keras
import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import SAMPLE, shared
from textcnn import export, predict, text
from textcnn.config import ExportConfig, PredictConfig
from textcnn.errors import GateFailed, TextcnnError
from textcnn.features import Vocabulary

ODD_TEXTS = [
    "Ｆ１赛车：中国站！", "  多个   空格\t和\t制表符 ", "零宽\u200b字符\x00与控制符", "①②③ ㎏ ﬁ",
    "\uf900\u3000全角空格",
    "iPhone ＡＩ NBA", "中文\u2028分隔", "emoji 😀 和 𠀀", "", "   ", "ÀÉÎ façade Straße",
]


@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("export") / "serving"
    meta = export.run(ExportConfig(model=str(sample_run["model"]), vocab=str(sample_run["vocab"]), out=str(base)))
    return base, meta


def test_tf_serving_layout_and_signature(exported):
    import tensorflow as tf

    base, meta = exported
    assert meta["path"] == str(base / "1")
    for name in ("saved_model.pb", "variables/variables.index", "assets/vocab.txt", "assets.extra/textcnn.json"):
        assert (base / "1" / name).exists(), name
    fn = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    assert list(fn.structured_input_signature[1]) == ["text"]
    assert set(fn.structured_outputs) == {"label", "label_id", "probabilities"}
    out = fn(text=tf.constant(["国足客场两球击败对手", "央行下调存款准备金率"]))
    assert out["probabilities"].shape == (2, 5)
    labels = meta["labels"]
    assert [s.decode() for s in out["label"].numpy()] == [labels[i] for i in out["label_id"].numpy()]


def test_in_graph_preprocessing_equals_the_training_path(sample_run, exported):
    """The SavedModel, fed raw text, gives exactly what the Keras model gives on cleaned ids."""
    base, meta = exported
    vocab = Vocabulary.load(sample_run["vocab"])
    texts = ODD_TEXTS + (SAMPLE / "test.tsv").read_text(encoding="utf-8").split("\n")
    model = keras.saving.load_model(sample_run["model"] / "model.keras", safe_mode=True)
    _, tokens = text.preprocess(texts, "char")
    expected = model.predict(vocab.token_ids(tokens, meta["seq_len"]), verbose=0)
    got = predict.Predictor(base).probabilities(texts)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_in_graph_tokens_equal_python_tokens_on_real_data():
    """Token for token, the graph's normalisation and char split equal textcnn.text on real corpora."""
    import tensorflow as tf

    lines = []
    for name in ("thucnews/test.tsv", "chnsenticorp/dev.tsv", "waimai_10k/all.tsv"):
        lines += [line.partition("\t")[2] for line in shared(*name.split("/")).read_text(encoding="utf-8").splitlines()]
    lines += ODD_TEXTS
    for lowercase in (False, True):
        _, tokens = text.preprocess(lines, "char", lowercase)
        graph = _graph_tokens(tf, lowercase)
        got = graph(tf.constant(lines)).to_list()
        assert [[t.decode() for t in row] for row in got] == tokens.to_pylist()


def _graph_tokens(tf, lowercase):
    """The tokens the export's serve function computes (its model call left out)."""
    table = text.char_table(lowercase)
    lookup = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(table), tf.int32), tf.constant(list(table.values()))), export._KEEP)
    return lambda t: export.graph_tokens(tf, t, lookup, by_char=True)


def test_versions_count_up_and_never_overwrite(sample_run, exported):
    base, _ = exported
    cfg = ExportConfig(model=str(sample_run["model"]), vocab=str(sample_run["vocab"]), out=str(base))
    assert export.run(cfg)["version"] == 2
    with pytest.raises(TextcnnError, match="already holds version 2"):
        export.run(ExportConfig(**{**cfg.__dict__, "version": 2}))
    assert predict.find_version(base) == base / "2"
    assert not [p for p in base.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_accuracy_gate(sample_run, tmp_path):
    from textcnn import evaluate
    from textcnn.config import EvaluateConfig

    evaluate.run(EvaluateConfig(data=str(sample_run["data"]), vocab=str(sample_run["vocab"]),
                                model=str(sample_run["model"]), out=str(tmp_path / "eval")))
    accuracy = json.loads((tmp_path / "eval" / "metrics.json").read_text())["accuracy"]
    cfg = dict(model=str(sample_run["model"]), vocab=str(sample_run["vocab"]), out=str(tmp_path / "x"),
               metrics=str(tmp_path / "eval"))
    with pytest.raises(GateFailed, match=f"test accuracy {accuracy:.4f} is below --min-accuracy") as e:
        export.run(ExportConfig(**cfg, min_accuracy=accuracy + 0.01))
    assert e.value.exit_code == 1 and not (tmp_path / "x").exists()
    meta = export.run(ExportConfig(**cfg, min_accuracy=accuracy))
    assert meta["gate"] == {"accuracy": accuracy, "min_accuracy": accuracy, "split": "test"}


def test_predict_writes_one_line_per_input_line(exported, tmp_path):
    base, meta = exported
    (tmp_path / "in.txt").write_bytes("国足客场两球击败对手\r\n\n央行".encode() + b"\xff" + "下调利率\n".encode())
    out = io.StringIO()
    assert predict.run(PredictConfig(model=str(base), input=str(tmp_path / "in.txt"), top_k=3), out) == 3
    rows = [line.split("\t") for line in out.getvalue().splitlines()]
    assert len(rows) == 3 and all(len(r) == 6 for r in rows)
    for r in rows:
        probs = [float(p) for p in r[1::2]]
        assert probs == sorted(probs, reverse=True) and set(r[0::2]) <= set(meta["labels"])


def test_jieba_models_segment_before_the_signature(tmp_path):
    from textcnn import clean, train, vocab
    from textcnn.config import CleanConfig, TrainConfig, VocabConfig
    from tests.conftest import SMALL_TRAIN

    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), dev=str(SAMPLE / "dev.tsv"), out=str(tmp_path / "d"),
                          tokenizer="jieba", user_dict=str(SAMPLE / "user_dict.txt"),
                          stopwords=str(SAMPLE / "stopwords.txt"), quiet=True))
    vocab.run(VocabConfig(data=str(tmp_path / "d"), out=str(tmp_path / "v"), min_count=1, embedding_dim=16))
    train.run(TrainConfig(data=str(tmp_path / "d"), vocab=str(tmp_path / "v"), out=str(tmp_path / "m"),
                          **{**SMALL_TRAIN, "epochs": 1, "num_filters": 8}))
    meta = export.run(ExportConfig(model=str(tmp_path / "m"), vocab=str(tmp_path / "v"), out=str(tmp_path / "x")))
    assert "jieba words separated by spaces" in meta["input"]
    assert (tmp_path / "x" / "1" / "assets" / "stopwords.txt").exists()
    assert (tmp_path / "x" / "1" / "assets.extra" / "user_dict.txt").exists()
    p = predict.Predictor(tmp_path / "x")
    assert p.model_input(["大模型推动人工智能发展的新阶段"]) == ["大模型 推动 人工智能 发展 的 新 阶段"]
    v = Vocabulary.load(tmp_path / "v")
    model = keras.saving.load_model(tmp_path / "m" / "model.keras", safe_mode=True)
    texts = ["大模型推动人工智能发展的新阶段", "考研报名人数创新高"]
    stopwords = pa.array((SAMPLE / "stopwords.txt").read_text(encoding="utf-8").split())
    _, tokens = text.preprocess(texts, "jieba", stopwords=stopwords)
    np.testing.assert_allclose(p.probabilities(texts), model.predict(v.token_ids(tokens, 32), verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_folded_and_plain_exports_agree(sample_run, exported, tmp_path):
    """auto folds a small vocabulary; --fold off serves through the Keras layers: same answers."""
    base, meta = exported
    assert meta["folded"] is True
    plain = export.run(ExportConfig(model=str(sample_run["model"]), vocab=str(sample_run["vocab"]),
                                    out=str(tmp_path / "plain"), fold="off"))
    assert plain["folded"] is False
    texts = (SAMPLE / "test.tsv").read_text(encoding="utf-8").split("\n")
    np.testing.assert_allclose(predict.Predictor(base).probabilities(texts),
                               predict.Predictor(tmp_path / "plain").probabilities(texts), rtol=1e-4, atol=1e-6)
