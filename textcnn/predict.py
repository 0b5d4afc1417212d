"""predict: raw text lines in, `label<TAB>probability` (or the top k) lines out, via the export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from . import text
from .config import PredictConfig
from .errors import TextcnnError
from .export import METADATA, SIGNATURE, load_metadata


def find_version(path: str | Path) -> Path:
    """A SavedModel folder itself, or the highest numbered version under an export base folder."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path
    versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()),
                      key=lambda p: int(p.name)) if path.is_dir() else []
    if not versions:
        raise TextcnnError("no exported model here (no saved_model.pb, no numbered version folder)",
                           "pass the --out folder of `textcnn export` or one of its version folders", file=path)
    return versions[-1]


class Predictor:
    """The exported model as a Python callable; segments raw text first for jieba models."""

    def __init__(self, path: str | Path):
        import tensorflow as tf

        self.path = find_version(path)
        if not (self.path / METADATA).exists():
            raise TextcnnError(f"no {METADATA}: not exported by `textcnn export`",
                               "export the model with `textcnn export`", file=self.path)
        self.metadata = load_metadata(self.path)
        self.labels: list[str] = self.metadata["labels"]
        self._prep = self.metadata["preprocessing"]
        if self._prep["tokenizer"] == "jieba":
            from . import segment
            user_dict = self.path / METADATA.parent / "user_dict.txt"
            segment.configure(str(user_dict) if user_dict.exists() else None)
        self._tf = tf
        self._serve = tf.saved_model.load(str(self.path)).signatures[SIGNATURE]

    def model_input(self, texts: list[str]) -> list[str]:
        """What the signature receives: the texts, or their jieba words joined by spaces."""
        if self._prep["tokenizer"] != "jieba":
            return texts
        normalised = text.normalize(texts, self._prep["lowercase"])
        return [" ".join(words) for words in text.tokenize(normalised, "jieba").to_pylist()]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)), np.float32)
        out = self._serve(text=self._tf.constant(self.model_input(texts)))
        return out["probabilities"].numpy()


def run(cfg: PredictConfig, stdout: IO[str] | None = None) -> int:
    """Predict every line of cfg.input; write one output line per input line. Returns the count."""
    stdout = stdout or sys.stdout
    if cfg.top_k < 1 or cfg.batch_size < 1:
        raise TextcnnError("--top-k and --batch-size must be at least 1", "e.g. --top-k 3")
    predictor = Predictor(cfg.model)
    k = min(cfg.top_k, len(predictor.labels))
    labels = np.asarray(predictor.labels, dtype=object)
    count = 0
    for batch in _batches(cfg.input, cfg.batch_size):
        probs = predictor.probabilities(batch)
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        for row, best in zip(probs, top):
            stdout.write("\t".join(f"{labels[i]}\t{row[i]:.4f}" for i in best) + "\n")
        stdout.flush()
        count += len(batch)
    return count


def _batches(source: str, size: int) -> Iterator[list[str]]:
    """Lines of a file or of standard input (invalid UTF-8 replaced), in batches."""
    if source == "-":
        stream = sys.stdin.buffer
    else:
        path = Path(source)
        if not path.is_file():
            raise TextcnnError("input file not found", "pass a file of texts, one a line, or - for stdin",
                               file=path)
        stream = path.open("rb")
    try:
        batch = []
        for number, raw in enumerate(stream, 1):
            line = raw.rstrip(b"\n").removesuffix(b"\r")
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            batch.append(line.decode("utf-8", errors="replace"))
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
