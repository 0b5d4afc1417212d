"""From step outputs to arrays: the vocabulary folder, and token lists to padded id matrices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import artifacts
from .errors import TextcnnError

PAD_ID, UNK_ID = 0, 1


@dataclass
class Vocabulary:
    folder: Path
    tokens: list[str]
    labels: list[str]
    manifest: dict

    @classmethod
    def load(cls, folder: str | Path, option: str = "--vocab") -> "Vocabulary":
        manifest = artifacts.read_manifest(folder, "vocab", option)
        folder = Path(folder)
        vocab = artifacts.read_json(folder / "vocab.json")
        labels = artifacts.read_json(folder / "labels.json")
        return cls(folder, sorted(vocab, key=vocab.get), sorted(labels, key=labels.get), manifest)

    @property
    def preprocessing(self) -> dict:
        return self.manifest["preprocessing"]

    def embeddings(self) -> np.ndarray:
        return np.load(self.folder / "embeddings.npy", allow_pickle=False)

    def token_ids(self, tokens: pa.ChunkedArray | pa.ListArray, seq_len: int) -> np.ndarray:
        """Map token lists to an (n, seq_len) int32 matrix: first seq_len tokens, PAD after, UNK if unknown."""
        if isinstance(tokens, pa.ChunkedArray):
            tokens = tokens.combine_chunks()
        values = pc.list_flatten(tokens)
        ids = pc.index_in(values, value_set=pa.array(self.tokens, pa.string())).fill_null(UNK_ID)
        ids = ids.to_numpy(zero_copy_only=False).astype(np.int32)
        rows = pc.list_parent_indices(tokens).to_numpy()
        starts = tokens.offsets.to_numpy()[:-1] - tokens.offsets[0].as_py()
        position = np.arange(len(values)) - starts[rows]
        keep = position < seq_len
        matrix = np.zeros((len(tokens), seq_len), np.int32)
        matrix[rows[keep], position[keep]] = ids[keep]
        return matrix

    def label_ids(self, labels: pa.ChunkedArray, source: Path) -> np.ndarray:
        ids = pc.index_in(labels, value_set=pa.array(self.labels, pa.string()))
        if ids.null_count:
            unknown = sorted(set(pc.filter(labels, pc.is_null(ids)).to_pylist()))
            raise TextcnnError(f"labels the vocabulary does not know: {', '.join(unknown[:5])}",
                               "use a --vocab built from data with these labels", file=source)
        return ids.to_numpy(zero_copy_only=False).astype(np.int32)


def check_same_preprocessing(data_manifest: dict, vocab: Vocabulary, data: str | Path) -> None:
    """Data and vocabulary must come from the same tokeniser and normalisation."""
    if data_manifest["preprocessing"] != vocab.preprocessing:
        raise TextcnnError(
            f"tokenised with {data_manifest['preprocessing']}, but the vocabulary with {vocab.preprocessing}",
            "build --vocab from data cleaned with the same options", file=data)


def load_split(data: str | Path, split: str) -> pa.Table:
    path = Path(data) / f"{split}.parquet"
    if not path.exists():
        raise TextcnnError(f"there is no {split} split", f"pass --{split} to `textcnn clean`"
                           if split != "train" else "rerun `textcnn clean`", file=data)
    return pq.read_table(path)
