"""Step 5, export: a SavedModel for TF Serving that takes raw text.

OUT/VERSION/ holds saved_model.pb, variables/, assets/ (vocabulary, stopwords) and
assets.extra/textcnn.json (labels, preprocessing, source). Signature `serving_default`:
input `text` (a batch of strings) -> `label` (string), `label_id` (int64), `probabilities`
(float32, one column per label in labels order). Normalisation and char / whitespace
tokenisation run inside the graph with core TensorFlow ops only (no custom ops, no Python),
so stock TF Serving can load it. A jieba model's signature takes the words separated by
spaces; `textcnn predict` and textcnn.predict.Predictor segment raw text first.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path


from . import artifacts, folding, text
from .config import ExportConfig
from .errors import GateFailed, TextcnnError
from .evaluate import load_model_manifest
from .features import PAD_ID, UNK_ID, Vocabulary

SIGNATURE = "serving_default"
METADATA = Path("assets.extra") / "textcnn.json"
# A table value no character maps to (NUL is always deleted), meaning "keep the character".
_KEEP = "\x00\x00"


def run(cfg: ExportConfig) -> dict:
    """Export cfg.model into cfg.out/VERSION; return the export's metadata."""
    vocab = Vocabulary.load(cfg.vocab)
    model_meta = load_model_manifest(cfg.model, vocab)
    gate = _check_gate(cfg)
    base = Path(cfg.out)
    if base.exists() and not base.is_dir():
        raise TextcnnError("exists and is not a folder", "pass a folder for --out", file=base)
    version = cfg.version if cfg.version is not None else next_version(base)
    if version < 1:
        raise TextcnnError(f"--version must be a positive integer, not {version}", "e.g. --version 1")
    target = base / str(version)
    if target.exists():
        raise TextcnnError(f"already holds version {version}",
                           "pass another --version, or leave it out for the next free number", file=base)

    import keras
    import tensorflow as tf

    model = keras.saving.load_model(Path(cfg.model) / "model.keras", safe_mode=True)
    fold = _should_fold(cfg.fold, len(vocab.tokens), model_meta)
    metadata = {
        "signature": SIGNATURE,
        "input": "text: raw text" if vocab.preprocessing["tokenizer"] != "jieba"
        else "text: jieba words separated by spaces (segment raw text first)",
        "outputs": ["label", "label_id", "probabilities"],
        "labels": vocab.labels,
        "seq_len": model_meta["seq_len"],
        "preprocessing": vocab.preprocessing,
        "version": version,
        "model": str(cfg.model),
        "train_summary": model_meta.get("summary"),
        "gate": gate,
        "folded": fold,
    }
    with artifacts.atomic_dir(target) as tmp, tempfile.TemporaryDirectory() as assets:
        archive = build_archive(keras, tf, model, vocab, model_meta["seq_len"], Path(assets), fold=fold)
        archive.write_out(str(tmp), verbose=False)
        (tmp / METADATA).parent.mkdir()
        artifacts.write_json(tmp / METADATA, metadata)
        if (vocab.folder / "user_dict.txt").exists():
            shutil.copyfile(vocab.folder / "user_dict.txt", tmp / METADATA.parent / "user_dict.txt")
    artifacts.write_manifest(base, "export", latest_version=version, config=asdict(cfg))
    return {**metadata, "path": str(target)}


def next_version(base: Path) -> int:
    versions = [int(p.name) for p in base.iterdir() if re.fullmatch(r"\d+", p.name)] if base.is_dir() else []
    return max(versions, default=0) + 1


def _check_gate(cfg: ExportConfig) -> dict | None:
    if cfg.metrics is None:
        if cfg.min_accuracy > 0:
            raise TextcnnError("--min-accuracy needs --metrics", "pass the --out folder of `textcnn evaluate`")
        return None
    meta = artifacts.read_manifest(cfg.metrics, "evaluate", "--metrics")
    accuracy = artifacts.read_json(Path(cfg.metrics) / "metrics.json")["accuracy"]
    if accuracy < cfg.min_accuracy:
        raise GateFailed(f"not exported: {meta['config']['split']} accuracy {accuracy:.4f} is below "
                         f"--min-accuracy {cfg.min_accuracy}", "improve the model or lower the threshold",
                         file=cfg.metrics)
    return {"accuracy": accuracy, "min_accuracy": cfg.min_accuracy, "split": meta["config"]["split"]}


def _should_fold(choice: str, vocab_size: int, model_meta: dict) -> bool:
    cfg = model_meta["config"]
    size = folding.table_bytes(vocab_size, cfg["filter_sizes"], cfg["num_filters"])
    if choice == "on" and size > 4 * folding.MAX_TABLE_BYTES:
        raise TextcnnError(f"--fold on needs a {size / 2**20:.0f} MiB table for this vocabulary",
                           "use --fold auto or off, or a smaller vocabulary (vocab --max-size)")
    return choice == "on" or (choice == "auto" and size <= folding.MAX_TABLE_BYTES)


def build_archive(keras, tf, model, vocab: Vocabulary, seq_len: int, assets: Path, *, fold: bool = False):
    """The Keras ExportArchive: preprocessing tables + model behind one string signature."""
    prep = vocab.preprocessing
    table = text.char_table(prep["lowercase"])
    normalise = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(table), tf.int32), tf.constant(list(table.values()), tf.string)), _KEEP)
    (assets / "vocab.txt").write_text("".join(t + "\n" for t in vocab.tokens), encoding="utf-8")
    token_ids = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(assets / "vocab.txt"), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), UNK_ID)
    stopwords = None
    if (vocab.folder / "stopwords.txt").exists():
        shutil.copyfile(vocab.folder / "stopwords.txt", assets / "stopwords.txt")
        stopwords = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            str(assets / "stopwords.txt"), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), -1)
    labels = tf.constant(vocab.labels)
    folded = folding.build(tf, folding.folded_weights(model)) if fold else None
    infer = folded if fold else (lambda ids: model(ids, training=False))
    by_char = prep["tokenizer"] == "char"

    def serve(text):
        tokens = graph_tokens(tf, text, normalise, by_char)
        if stopwords is not None:
            tokens = tf.ragged.boolean_mask(tokens, tf.less(stopwords.lookup(tokens), 0))
        padded = tokens[:, :seq_len].to_tensor(default_value="", shape=[None, seq_len])
        ids = tf.where(tf.equal(padded, ""), tf.constant(PAD_ID, tf.int64), token_ids.lookup(padded))
        probabilities = tf.cast(infer(tf.cast(ids, tf.int32)), tf.float32)
        label_id = tf.argmax(probabilities, axis=-1)
        return {"label": tf.gather(labels, label_id), "label_id": label_id, "probabilities": probabilities}

    archive = keras.export.ExportArchive()
    archive.track(model)
    for resource in (normalise, token_ids, stopwords, folded):
        if resource is not None:
            archive.track(resource)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    return archive


def graph_tokens(tf, text, normalise, by_char: bool):
    """textcnn.text in TensorFlow ops: per-character table, collapse spaces, trim, tokenise."""
    chars = tf.strings.unicode_split(text, "UTF-8", errors="replace")
    codes = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
    mapped = tf.ragged.map_flat_values(normalise.lookup, codes)
    chars = tf.ragged.map_flat_values(lambda c, m: tf.where(tf.equal(m, _KEEP), c, m), chars, mapped)
    joined = tf.strings.strip(tf.strings.regex_replace(tf.strings.reduce_join(chars, axis=-1), " +", " "))
    if by_char:
        tokens = tf.strings.unicode_split(joined, "UTF-8")
        return tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, " "))
    return tf.strings.split(joined)


def load_metadata(version_dir: Path) -> dict:
    return artifacts.read_json(version_dir / METADATA)


