import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from textcnn import clean, vocab
from textcnn.config import CleanConfig, VocabConfig
from textcnn.errors import TextcnnError
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "data"
    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), dev=str(SAMPLE / "dev.tsv"),
                          test=str(SAMPLE / "test.tsv"), out=str(out), quiet=True))
    return out


def train_counts(data):
    return Counter(t for row in pq.read_table(data / "train.parquet")["tokens"].to_pylist() for t in row)


def build(data, tmp_path, **kw):
    cov = vocab.run(VocabConfig(data=str(data), out=str(tmp_path / "vocab"), **kw))
    ids = json.loads((tmp_path / "vocab" / "vocab.json").read_text(encoding="utf-8"))
    return cov, ids, np.load(tmp_path / "vocab" / "embeddings.npy")


def test_vocabulary_comes_from_train_only_with_min_count(data, tmp_path):
    cov, ids, emb = build(data, tmp_path, min_count=3, embedding_dim=16)
    counts = train_counts(data)
    assert ids["<PAD>"] == 0 and ids["<UNK>"] == 1
    assert set(ids) - {"<PAD>", "<UNK>"} == {t for t, n in counts.items() if n >= 3}
    order = list(ids)[2:]
    assert [counts[t] for t in order] == sorted((counts[t] for t in order), reverse=True)
    assert emb.shape == (len(ids), 16) and emb.dtype == np.float32 and not emb[0].any()
    labels = json.loads((tmp_path / "vocab" / "labels.json").read_text(encoding="utf-8"))
    assert labels == {"体育": 0, "娱乐": 1, "教育": 2, "科技": 3, "财经": 4}
    assert cov["source"] == "random"
    dev_only = {t for row in pq.read_table(data / "dev.parquet")["tokens"].to_pylist() for t in row} - set(counts)
    assert dev_only and not dev_only & set(ids)


def test_max_size_keeps_the_most_frequent(data, tmp_path):
    _, ids, _ = build(data, tmp_path, min_count=1, max_size=10)
    assert len(ids) == 12
    top = [t for t, _ in sorted(train_counts(data).items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    assert list(ids)[2:] == top


def write_vectors(path, rows, header=None):
    dim = len(rows[0][1])
    lines = [header or f"{len(rows)} {dim}"] + [f"{t} " + " ".join(map(str, v)) for t, v in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_pretrained_vectors_fill_rows_and_missing_tokens_stay(data, tmp_path):
    counts = train_counts(data)
    top = [t for t, _ in counts.most_common(5)]
    rows = [(t, [float(i), 0.5, -0.5]) for i, t in enumerate(top)] + [("不在词表", [9.0, 9.0, 9.0])]
    path = write_vectors(tmp_path / "vec.txt", rows)
    cov, ids, emb = build(data, tmp_path, min_count=1, pretrained=path)
    assert emb.shape == (len(ids), 3)
    for i, t in enumerate(top):
        assert emb[ids[t]].tolist() == [float(i), 0.5, -0.5]
    missing = [t for t in ids if t not in top and t not in ("<PAD>", "<UNK>")]
    assert len(missing) == len(ids) - 7  # kept with random vectors, not dropped
    assert np.abs(emb[[ids[t] for t in missing]]).sum() > 0
    assert cov["types_found"] == 5 and cov["vectors_in_file"] == 6
    assert cov["token_coverage"] == pytest.approx(sum(counts[t] for t in top) / sum(counts.values()), abs=1e-6)


def test_binary_vectors_and_lowercase_fallback(data, tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["国", "新", "c"], np.arange(12, dtype=np.float32).reshape(3, 4))
    kv.save_word2vec_format(str(tmp_path / "vec.bin"), binary=True)
    counts = train_counts(data)
    assert "C" in counts and "c" not in counts  # the sample writes CPU in capitals
    cov, ids, emb = build(data, tmp_path, min_count=1, pretrained=str(tmp_path / "vec.bin"), binary=True)
    assert emb[ids["国"]].tolist() == [0, 1, 2, 3]
    assert emb[ids["C"]].tolist() == [8, 9, 10, 11]
    assert cov["types_found"] == 3


def test_train_word2vec(data, tmp_path):
    cov, ids, emb = build(data, tmp_path, min_count=2, train_word2vec=True, embedding_dim=20)
    assert cov["source"] == "word2vec" and cov["type_coverage"] == 1.0 and emb.shape == (len(ids), 20)


@pytest.mark.parametrize("content, match", [
    ("国 0.1 0.2\n", "bad header"),
    ("2 3\n国 0.1 0.2 0.3\n新 0.1 0.2\n", ":3: 2 values where the header says 3"),
    ("3 2\n国 0.1 0.2\n新 0.1 0.2\n", ":1: the header says 3 vectors but the file has 2"),
    ("2 2\n国 0.1 0.2\n新 0.1 abc\n", "cannot read the vectors"),
    ("2 2\n国 0.1 nan\n新 0.1 0.2\n", "the vector of '国' holds NaN or Inf"),
    ("2 2\n国 0.1 0.2\n新 inf 0.2\n", "the vector of '新' holds NaN or Inf"),
])
def test_bad_vector_files(data, tmp_path, content, match):
    (tmp_path / "vec.txt").write_text(content, encoding="utf-8")
    with pytest.raises(TextcnnError, match=match):
        build(data, tmp_path, min_count=1, pretrained=str(tmp_path / "vec.txt"))
    assert not (tmp_path / "vocab" / "textcnn.json").exists()


def test_empty_vocabulary_after_min_count(data, tmp_path):
    with pytest.raises(TextcnnError, match="no token occurs at least 100000 times.*lower --min-count"):
        build(data, tmp_path, min_count=100000)


def test_refuses_a_folder_that_is_not_a_clean_output(data, tmp_path):
    build(data, tmp_path, min_count=1)
    with pytest.raises(TextcnnError, match="is the output of `textcnn vocab`, not of `textcnn clean`"):
        vocab.run(VocabConfig(data=str(tmp_path / "vocab"), out=str(tmp_path / "v2")))
    with pytest.raises(TextcnnError, match="not a finished output of `textcnn clean`"):
        vocab.run(VocabConfig(data=str(tmp_path), out=str(tmp_path / "v2")))
