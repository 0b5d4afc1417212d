"""Step 2, vocab: token and label ids from the training split, and the embedding matrix.

Outputs (in --out): vocab.json (token -> id; <PAD>=0, <UNK>=1, then by falling frequency),
labels.json (label -> id), embeddings.npy (float32, one row per id), coverage.json, the
stopword list / user dictionary of the clean step, and the textcnn.json manifest (which
carries the preprocessing options that prediction must repeat).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import artifacts
from .config import VocabConfig
from .errors import TextcnnError
from .readers import CHUNK_RECORDS

PAD, UNK = "<PAD>", "<UNK>"
CARRIED_FILES = ("stopwords.txt", "user_dict.txt")  # copied from the clean output


def run(cfg: VocabConfig) -> dict:
    """Build the vocabulary of cfg.data's train split into cfg.out; return coverage.json's content."""
    clean_meta = artifacts.read_manifest(cfg.data, "clean", "--data")
    data = Path(cfg.data)
    if cfg.pretrained and cfg.train_word2vec:
        raise TextcnnError("--pretrained and --train-word2vec exclude each other", "pass only one")
    if cfg.min_count < 1 or cfg.max_size < 0 or cfg.embedding_dim < 1:
        raise TextcnnError("--min-count and --embedding-dim must be at least 1, --max-size at least 0",
                           "e.g. --min-count 5 --embedding-dim 300")
    out = artifacts.prepare_out(cfg.out)

    counts = count_tokens(data / "train.parquet")
    kept = counts[counts >= cfg.min_count]
    if cfg.max_size:
        kept = kept.iloc[: cfg.max_size]
    if kept.empty:
        raise TextcnnError(f"no token occurs at least {cfg.min_count} times in the training split",
                           "lower --min-count", file=data / "train.parquet")
    tokens = [PAD, UNK] + kept.index.tolist()
    labels = sorted(pc.unique(pq.read_table(data / "train.parquet", columns=["label"])["label"]).to_pylist())

    rng = np.random.default_rng(cfg.seed)
    if cfg.pretrained:
        embeddings, coverage = pretrained_matrix(tokens, counts, cfg, rng)
    elif cfg.train_word2vec:
        embeddings, coverage = word2vec_matrix(tokens, data / "train.parquet", cfg)
    else:
        embeddings = rng.uniform(-0.05, 0.05, (len(tokens), cfg.embedding_dim)).astype(np.float32)
        coverage = {"source": "random"}
    embeddings[0] = 0.0  # PAD
    in_vocab = kept.sum()
    coverage.update({
        "vocab_size": len(tokens),
        "embedding_dim": int(embeddings.shape[1]),
        "train_tokens": int(counts.sum()),
        "train_types": int(len(counts)),
        "unk_rate": round(float(1 - in_vocab / counts.sum()), 6),
    })

    artifacts.write_json(out / "vocab.json", {t: i for i, t in enumerate(tokens)})
    artifacts.write_json(out / "labels.json", {lab: i for i, lab in enumerate(labels)})
    with artifacts.atomic_path(out / "embeddings.npy") as tmp, tmp.open("wb") as f:
        np.save(f, embeddings, allow_pickle=False)
    artifacts.write_json(out / "coverage.json", coverage)
    for name in CARRIED_FILES:
        if (data / name).exists():
            with artifacts.atomic_path(out / name) as tmp:
                shutil.copyfile(data / name, tmp)
    artifacts.write_manifest(out, "vocab", preprocessing=clean_meta["preprocessing"],
                             vocab_size=len(tokens), num_labels=len(labels),
                             embedding_dim=int(embeddings.shape[1]), embeddings=coverage["source"],
                             config=asdict(cfg))
    return coverage


def count_tokens(train: Path) -> pd.Series:
    """Token counts of the split, most frequent first (ties by token), streamed by batches."""
    table = pa.table({"token": pa.array([], pa.string()), "count": pa.array([], pa.int64())})
    for batch in pq.ParquetFile(train).iter_batches(columns=["tokens"], batch_size=CHUNK_RECORDS):
        vc = pc.value_counts(pc.list_flatten(batch.column("tokens")))
        batch_counts = pa.table({"token": vc.field("values"), "count": vc.field("counts")})
        # Merged after every batch: memory follows the number of distinct tokens, not the input.
        merged = pa.concat_tables([table, batch_counts]).group_by("token").aggregate([("count", "sum")])
        table = pa.table({"token": merged["token"], "count": merged["count_sum"]})
    counts = pd.Series(table["count"].to_numpy(), index=table["token"].to_pandas(), dtype=np.int64)
    counts = counts.drop([PAD, UNK], errors="ignore")  # a literal "<PAD>" in the data stays unknown
    return counts.iloc[np.lexsort((counts.index.to_numpy(str), -counts.to_numpy()))]


def pretrained_matrix(tokens: list[str], counts: pd.Series, cfg: VocabConfig, rng) -> tuple[np.ndarray, dict]:
    """Rows from the vectors file where the token (or its lower case) has one, random otherwise."""
    kv = load_vectors(cfg.pretrained, cfg.binary)
    keys = pd.Index(kv.index_to_key)
    row = keys.get_indexer(tokens)
    missing = row < 0
    row[missing] = keys.get_indexer([t.lower() for t in np.asarray(tokens, object)[missing]])
    found = row >= 0
    found[:2] = False  # PAD and UNK never take a pretrained vector
    vectors = kv.vectors.astype(np.float32)
    # Missing tokens start near the pretrained vectors' distribution (Kim 2014), not dropped.
    embeddings = rng.normal(vectors.mean(0), vectors.std(0), (len(tokens), vectors.shape[1])).astype(np.float32)
    embeddings[found] = vectors[row[found]]
    found_tokens = [t for t, f in zip(tokens, found) if f]
    token_hits = int(counts.reindex(found_tokens).fillna(0).sum())
    return embeddings, {
        "source": "pretrained",
        "file": str(cfg.pretrained),
        "vectors_in_file": len(keys),
        "types_found": int(found.sum()),
        "types_total": len(tokens) - 2,
        "type_coverage": round(float(found.sum()) / (len(tokens) - 2), 6),
        "token_coverage": round(token_hits / float(counts.sum()), 6),
    }


def load_vectors(path: str, binary: bool):
    """Load word2vec text/binary vectors with gensim, turning every defect into a one-line error."""
    from gensim.models import KeyedVectors

    p = Path(path)
    if not p.is_file():
        raise TextcnnError("vectors file not found", "check --pretrained", file=p)
    fix = "pass a word2vec file: a `<count> <dim>` header, then `token v1 ... vdim` per line" + (
        "" if binary else " (add --binary for the binary format)")
    header = p.open("rb").readline()
    parts = header.split()
    if len(parts) != 2 or not all(x.isdigit() for x in parts) or int(parts[1]) == 0:
        raise TextcnnError(f"bad header {header[:60]!r}", fix, file=p, line=1)
    count, dim = map(int, parts)
    if not binary:
        _check_text_vectors(p, count, dim, fix)
    try:
        kv = KeyedVectors.load_word2vec_format(str(p), binary=binary, unicode_errors="strict")
    except UnicodeDecodeError as e:
        raise TextcnnError(f"not UTF-8 ({e.reason})", "convert the file to UTF-8, e.g. with iconv", file=p,
                           line=None if binary else _first_unreadable_line(p)) from None
    except (ValueError, EOFError) as e:
        raise TextcnnError(f"cannot read the vectors ({e})", fix, file=p,
                           line=None if binary else _first_unreadable_line(p)) from None
    if kv.vectors.shape[1] != dim:
        raise TextcnnError(f"vectors have {kv.vectors.shape[1]} values, the header says {dim}", fix, file=p)
    bad = ~np.isfinite(kv.vectors).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise TextcnnError(f"the vector of {kv.index_to_key[i]!r} holds NaN or Inf",
                           "remove or fix that line", file=p, line=None if binary else i + 2)
    return kv


def _first_unreadable_line(p: Path) -> int | None:
    """The first line of a text vectors file that is not UTF-8 or not numbers (on errors only)."""
    with p.open("rb") as f:
        next(f)
        for number, line in enumerate(f, 2):
            try:
                [float(v) for v in line.decode("utf-8").split()[1:]]
            except ValueError:  # UnicodeDecodeError is one too
                return number
    return None


def _check_text_vectors(p: Path, count: int, dim: int, fix: str) -> None:
    """Check every line's value count and the line count against the header, naming the bad line."""
    lines = 0
    with p.open("rb") as f:
        next(f)
        for number, line in enumerate(f, 2):
            fields = len(line.split())
            if fields == 0:
                continue
            if fields != dim + 1:
                raise TextcnnError(f"{fields - 1} values where the header says {dim}", fix, file=p, line=number)
            lines += 1
    if lines != count:
        raise TextcnnError(f"the header says {count} vectors but the file has {lines}",
                           "fix the count in the first line", file=p, line=1)


class _Sentences:
    """Restartable iterable of token lists over the train split (Word2Vec reads it several times)."""

    def __init__(self, train: Path):
        self.train = train

    def __iter__(self):
        for batch in pq.ParquetFile(self.train).iter_batches(columns=["tokens"], batch_size=50_000):
            yield from batch.column("tokens").to_pylist()


def word2vec_matrix(tokens: list[str], train: Path, cfg: VocabConfig) -> tuple[np.ndarray, dict]:
    from gensim.models import Word2Vec

    model = Word2Vec(_Sentences(train), vector_size=cfg.embedding_dim, min_count=cfg.min_count,
                     workers=cfg.workers or os.cpu_count() or 1, seed=cfg.seed, epochs=cfg.word2vec_epochs)
    rng = np.random.default_rng(cfg.seed)
    embeddings = rng.uniform(-0.05, 0.05, (len(tokens), cfg.embedding_dim)).astype(np.float32)
    row = pd.Index(model.wv.index_to_key).get_indexer(tokens)
    found = row >= 0
    found[:2] = False
    embeddings[found] = model.wv.vectors[row[found]]
    return embeddings, {"source": "word2vec", "types_found": int(found.sum()),
                        "type_coverage": round(float(found.sum()) / (len(tokens) - 2), 6)}
