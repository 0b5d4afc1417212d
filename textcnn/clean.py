"""Step 1, clean: read labelled files, normalise, tokenise, split; every line accepted or rejected.

Outputs (in --out): train/dev/test.parquet (columns label, text, tokens, line), report.json,
rejects.tsv (file, line, reason, content), the stopword list and jieba user dictionary used
(so later steps and the exported model tokenise the same way), and the textcnn.json manifest.
"""

from __future__ import annotations

import collections
import functools
import multiprocessing as mp
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import artifacts, text
from .config import CleanConfig
from .errors import TextcnnError
from .readers import CHUNK_RECORDS, check_file, read_records, read_word_list, shown

SPLITS = ("train", "dev", "test")
# Files from this size on are cleaned by a process pool (--workers), in chunks of this many records.
PARALLEL_MIN_BYTES = 1_000_000
PARALLEL_CHUNK_RECORDS = 5_000
SCHEMA = pa.schema([("label", pa.string()), ("text", pa.string()),
                    ("tokens", pa.list_(pa.string())), ("line", pa.int64())])
# Why a line can be rejected (the `reason` column of rejects.tsv).
REASONS = {
    "invalid_utf8": "the line is not valid UTF-8",
    "empty_line": "the line is blank",
    "no_tab": "no TAB between label and text",
    "wrong_field_count": "a CSV/TSV row with more or fewer fields than the header",
    "bad_record": "a CSV/TSV row the parser cannot read",
    "bad_json": "a JSONL line that is not JSON",
    "missing_field": "a JSONL object without the text or label key",
    "bad_field_type": "a JSONL text that is not a string, or a label that is not a string or integer",
    "empty_label": "the label is empty",
    "bad_label": "the label holds a TAB or line break (a column mix-up, and it would break TSV outputs)",
    "empty_text": "the text is empty after normalisation",
    "too_long": "the text is longer than --max-chars",
    "no_tokens": "no tokens left after tokenising and removing stopwords",
    "unknown_label": "a dev/test label that train does not have",
    "duplicate": "with --dedupe: the text occurred earlier in the split, or in train",
}


def run(cfg: CleanConfig) -> dict:
    """Clean cfg.train/dev/test into cfg.out; return the report (also written to report.json).

    Streams: each chunk of input is cleaned and appended to its split's Parquet file, so memory
    holds one chunk plus a few numbers per accepted line (label, length, text hash for --dedupe)."""
    _check_config(cfg)
    out = artifacts.prepare_out(cfg.out)
    stopwords = _load_stopwords(cfg)
    if cfg.tokenizer == "jieba":
        _load_jieba(cfg.user_dict)

    files, splits, labels = {}, {}, None
    seen = _SeenTexts() if cfg.dedupe else None
    with tempfile.TemporaryDirectory(dir=out, prefix=".clean-") as scratch, _ChunkCleaner(cfg, stopwords) as cleaner:
        scratch = Path(scratch)
        with _RejectsFile(scratch / "rejects.tsv") as rejects:
            for split in SPLITS:
                path = getattr(cfg, split)
                if path:
                    with _SplitWriter(scratch / f"{split}.parquet") as writer:
                        files[split] = _clean_file(Path(path), split, cfg, cleaner, writer, rejects, seen, labels)
                    splits[split] = writer
                    if split == "train":
                        labels = sorted(writer.label_counts)
        dev_from_train = "dev" not in splits
        if dev_from_train:
            splits["train"], splits["dev"] = _split_dev_from_train(splits["train"], cfg.dev_ratio, cfg.seed, scratch)

        report = _report(cfg, splits, rejects.counts, files, labels, dev_from_train)
        os.replace(scratch / "rejects.tsv", out / "rejects.tsv")
        artifacts.write_json(out / "report.json", report)
        _check_report(cfg, report, out)
        for split, writer in splits.items():
            os.replace(writer.path, out / f"{split}.parquet")
    if stopwords is not None:
        artifacts.write_text(out / "stopwords.txt", "".join(w + "\n" for w in stopwords.to_pylist()))
    if cfg.user_dict:
        with artifacts.atomic_path(out / "user_dict.txt") as tmp:
            shutil.copyfile(cfg.user_dict, tmp)
    artifacts.write_manifest(out, "clean", splits=sorted(splits), preprocessing=preprocessing(cfg))
    return report


def preprocessing(cfg: CleanConfig) -> dict:
    """What prediction must repeat: the tokeniser and normalisation options."""
    return {"tokenizer": cfg.tokenizer, "lowercase": cfg.lowercase,
            "stopwords": bool(cfg.stopwords), "user_dict": bool(cfg.user_dict)}


def _check_config(cfg: CleanConfig) -> None:
    if not 0.0 < cfg.dev_ratio < 1.0:
        raise TextcnnError(f"--dev-ratio must be between 0 and 1, not {cfg.dev_ratio}", "e.g. --dev-ratio 0.2")
    if not 0.0 <= cfg.max_reject_ratio <= 1.0:
        raise TextcnnError(f"--max-reject-ratio must be between 0 and 1, not {cfg.max_reject_ratio}",
                           "e.g. --max-reject-ratio 0.01")
    if cfg.user_dict and cfg.tokenizer != "jieba":
        raise TextcnnError("--user-dict only applies to --tokenizer jieba",
                           "add --tokenizer jieba or drop --user-dict")
    if cfg.max_chars < 1:
        raise TextcnnError("--max-chars must be at least 1", "e.g. --max-chars 100000")


def _load_stopwords(cfg: CleanConfig) -> pa.Array | None:
    if not cfg.stopwords:
        return None
    # Stopwords go through the same normalisation as the texts, so they match their tokens.
    words = text.normalize(read_word_list(cfg.stopwords, "stopword"), cfg.lowercase)
    words = pc.unique(words.filter(pc.not_equal(words, "")))
    if not len(words):
        raise TextcnnError("the stopword file lists no words", "add words, one a line, or drop --stopwords",
                           file=cfg.stopwords)
    return words


def _load_jieba(user_dict: str | None) -> None:
    from . import segment

    if user_dict:
        read_word_list(user_dict, "user dictionary")  # the same file and UTF-8 checks as stopwords
    try:
        segment.configure(user_dict)
    except (ValueError, IndexError) as e:
        raise TextcnnError(f"jieba cannot read the user dictionary ({e})",
                           "use one `word [freq] [tag]` a line", file=user_dict) from None


def _clean_file(path: Path, split: str, cfg: CleanConfig, cleaner: "_ChunkCleaner", writer: "_SplitWriter",
                rejects: "_RejectsFile", seen: "_SeenTexts | None", train_labels: list[str] | None) -> dict:
    """Clean one input file chunk by chunk into writer; its rejects go to rejects."""
    input_lines = 0
    known = pa.array(train_labels, pa.string()) if train_labels is not None else None
    for chunk, cleaned in cleaner.map(path):
        input_lines += len(chunk)
        dropped = list(chunk.rejects)
        if cleaned is not None:
            table, bad = cleaned
            dropped += bad
            if seen is not None:
                first = seen.first(split, table["text"])
                dropped += _rows_as_rejects(table, ~first, "duplicate")
                table = table.filter(pa.array(first))
            if known is not None:  # dev and test: only labels that train has
                ok = pc.is_in(table["label"], value_set=known).to_numpy(zero_copy_only=False)
                dropped += _rows_as_rejects(table, ~ok, "unknown_label")
                table = table.filter(pa.array(ok))
            writer.write(table)
        rejects.add(str(path), sorted(dropped, key=lambda r: r[0]))
    return {"path": str(path), "input_lines": input_lines}


class _ChunkCleaner:
    """Cleans a file's chunks in order: in this process, or, for large inputs, in a pool of
    forked workers (which inherit the loaded jieba dictionary) with a few chunks in flight, so
    that reading the next chunks and writing finished ones here overlap the workers' cleaning."""

    def __init__(self, cfg: CleanConfig, stopwords):
        self.cfg, self.work = cfg, functools.partial(_clean_chunk, cfg=cfg, stopwords=stopwords)
        self.workers = cfg.workers or text.usable_cores()
        self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def map(self, path: Path):
        """(chunk, (accepted table, rejects) or None when the chunk has no records) per chunk."""
        cfg = self.cfg
        check_file(path)
        large = path.stat().st_size >= PARALLEL_MIN_BYTES
        parallel = self.workers > 1 and large and "fork" in mp.get_all_start_methods()
        chunks = read_records(path, cfg.format, cfg.text_col, cfg.label_col,
                              PARALLEL_CHUNK_RECORDS if parallel else CHUNK_RECORDS)
        bar = None
        if not cfg.quiet and cfg.tokenizer == "jieba" and large:
            from tqdm import tqdm
            bar = tqdm(unit="lines", desc=f"jieba {path.name}", leave=False)
        if parallel and self.pool is None:
            text.char_table(cfg.lowercase)  # built once here; the forked workers inherit it
            self.pool = mp.get_context("fork").Pool(self.workers)
        pending: collections.deque = collections.deque()
        try:
            for chunk in chunks:
                if not parallel:
                    yield chunk, self.work(chunk) if chunk.lines else None
                else:
                    pending.append((chunk, self.pool.apply_async(self.work, (chunk,)) if chunk.lines else None))
                    if len(pending) <= 2 * self.workers:
                        continue
                    chunk, result = pending.popleft()
                    yield chunk, result and result.get()
                bar and bar.update(len(chunk))
            while pending:
                chunk, result = pending.popleft()
                yield chunk, result and result.get()
                bar and bar.update(len(chunk))
        finally:
            bar and bar.close()


def _clean_chunk(chunk, cfg: CleanConfig, stopwords) -> tuple[pa.Table, list]:
    """Normalise and tokenise a chunk's records; return the accepted rows and the rejected ones."""
    too_long = np.fromiter((len(t) > cfg.max_chars for t in chunk.texts), bool, len(chunk.texts))
    # Long texts are rejected before normalising so one huge line costs nothing more.
    keep_texts = [t if not long else "" for t, long in zip(chunk.texts, too_long)]
    labels = text.normalize(chunk.labels)
    normalised, tokens = text.preprocess(keep_texts, cfg.tokenizer, cfg.lowercase, stopwords)
    reason = np.full(len(chunk.lines), "", dtype=object)
    reason[pc.equal(pc.list_value_length(tokens), 0).to_numpy(zero_copy_only=False)] = "no_tokens"
    reason[pc.equal(normalised, "").to_numpy(zero_copy_only=False)] = "empty_text"
    reason[too_long] = "too_long"
    reason[pc.equal(labels, "").to_numpy(zero_copy_only=False)] = "empty_label"
    raw_labels = pa.array(chunk.labels, pa.string())
    reason[pc.match_substring_regex(raw_labels, "[\t\r\n]").to_numpy(zero_copy_only=False)] = "bad_label"
    bad = reason != ""
    lines = np.asarray(chunk.lines, dtype=np.int64)
    rejected = [(int(lines[i]), reason[i], shown(f"{chunk.labels[i]}\t{chunk.texts[i]}")) for i in np.flatnonzero(bad)]
    good = pa.array(~bad)
    table = pa.table([labels.filter(good), normalised.filter(good), tokens.filter(good), pa.array(lines[~bad])],
                     schema=SCHEMA)
    return table, rejected


def _rows_as_rejects(table: pa.Table, mask: np.ndarray, reason: str) -> list:
    if not mask.any():
        return []
    rows = table.filter(pa.array(mask)).select(["label", "text", "line"]).to_pylist()
    return [(r["line"], reason, shown(f"{r['label']}\t{r['text']}")) for r in rows]


class _SeenTexts:
    """64-bit hashes of the texts seen so far in each split, for --dedupe: a text is kept the
    first time its split sees it, and dev/test also drop texts that train has."""

    def __init__(self):
        self.hashes: dict[str, np.ndarray] = {}

    def first(self, split: str, texts: pa.ChunkedArray) -> np.ndarray:
        h = pd.util.hash_array(texts.to_numpy().astype(object))
        first = np.zeros(len(h), bool)
        first[np.unique(h, return_index=True)[1]] = True
        for earlier in {split, "train"}:
            if earlier in self.hashes:
                first &= ~np.isin(h, self.hashes[earlier], assume_unique=False)
        self.hashes[split] = np.union1d(self.hashes.get(split, np.empty(0, np.uint64)), h)
        return first


class _RejectsFile:
    """rejects.tsv, written as rejects come, with counts by file and reason for the report."""

    def __init__(self, path: Path):
        self.path = path
        self.counts: dict[str, Counter] = {}

    def __enter__(self):
        self.file = self.path.open("w", encoding="utf-8")
        self.file.write("file\tline\treason\tcontent\n")
        return self

    def add(self, path: str, rejects: list) -> None:
        counts = self.counts.setdefault(path, Counter())
        for line, reason, content in rejects:
            self.file.write(f"{path}\t{line}\t{reason}\t{content}\n")
            counts[reason] += 1

    def __exit__(self, *exc):
        self.file.close()


class _SplitWriter:
    """One split's accepted rows appended to a Parquet file, with what the report needs."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self.label_counts: Counter = Counter()
        self._lengths: list[np.ndarray] = []
        self._label_ids: list[np.ndarray] = []  # per row, ids in order of first appearance
        self._label_index: dict[str, int] = {}
        self._writer = None

    def __enter__(self):
        self._writer = pq.ParquetWriter(self.path, SCHEMA, compression="zstd")
        return self

    def write(self, table: pa.Table) -> None:
        if not len(table):
            return
        self._writer.write_table(table)
        self.rows += len(table)
        encoded = pc.dictionary_encode(table["label"]).combine_chunks()
        values, ids = encoded.dictionary.to_pylist(), encoded.indices.to_numpy()
        for value, count in zip(values, np.bincount(ids, minlength=len(values))):
            self.label_counts[value] += int(count)
        index = np.array([self._label_index.setdefault(v, len(self._label_index)) for v in values], np.int32)
        self._label_ids.append(index[ids])
        self._lengths.append(pc.list_value_length(table["tokens"]).to_numpy(zero_copy_only=False).astype(np.int32))

    def __exit__(self, *exc):
        self._writer.close()

    def label_ids(self) -> np.ndarray:
        return np.concatenate(self._label_ids) if self._label_ids else np.zeros(0, np.int32)

    def stats(self) -> dict:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(1, np.int32)
        pct = np.percentile(lengths, [50, 90, 95, 99])
        return {
            "examples": self.rows,
            "labels": dict(sorted(self.label_counts.items())),
            "tokens_per_text": {"mean": round(float(lengths.mean()), 2), "p50": float(pct[0]),
                                "p90": float(pct[1]), "p95": float(pct[2]), "p99": float(pct[3]),
                                "max": int(lengths.max())},
        }


def _split_dev_from_train(train: _SplitWriter, ratio: float, seed: int, scratch: Path):
    """Move a stratified dev split out of the written train file, streaming it once more."""
    is_dev = _stratified_dev_mask(train.label_ids(), ratio, seed)
    source = scratch / "train-all.parquet"
    os.replace(train.path, source)
    with _SplitWriter(scratch / "train.parquet") as new_train, _SplitWriter(scratch / "dev.parquet") as dev:
        offset = 0
        for batch in pq.ParquetFile(source).iter_batches(batch_size=CHUNK_RECORDS):
            table = pa.Table.from_batches([batch], schema=SCHEMA)
            mask = is_dev[offset:offset + len(table)]
            offset += len(table)
            new_train.write(table.filter(pa.array(~mask)))
            dev.write(table.filter(pa.array(mask)))
    source.unlink()
    return new_train, dev


def _stratified_dev_mask(label_ids: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """Hold out round(ratio * n) rows of each label (keeping at least one in train), seeded."""
    groups, group_of = np.unique(label_ids, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(groups))
    order = np.random.default_rng(seed).permutation(len(label_ids))
    by_group = np.argsort(group_of[order], kind="stable")  # shuffled order within each group
    rank = np.empty(len(label_ids), np.int64)
    rank[by_group] = np.arange(len(label_ids)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n_dev = np.minimum(np.floor(sizes * ratio + 0.5), sizes - 1)
    is_dev = np.empty(len(label_ids), bool)
    is_dev[order] = rank < n_dev[group_of[order]]
    return is_dev


def _report(cfg, splits: dict, reject_counts: dict, files, labels, dev_from_train) -> dict:
    per_file = {}
    for split, f in files.items():
        reasons = reject_counts.get(f["path"], Counter())
        rejected = sum(reasons.values())
        per_file[split] = {**f, "accepted": f["input_lines"] - rejected, "rejected": rejected,
                           "rejected_by_reason": dict(sorted(reasons.items()))}
    all_reasons = sum(reject_counts.values(), Counter())
    total = {k: sum(f[k] for f in per_file.values()) for k in ("input_lines", "accepted", "rejected")}
    return {
        "config": asdict(cfg),
        "files": per_file,
        "total": total,
        "rejected_by_reason": dict(sorted(all_reasons.items())),
        "dev_split_from_train": dev_from_train,
        "labels": labels,
        "splits": {split: w.stats() for split, w in splits.items()},
    }


def _check_report(cfg: CleanConfig, report: dict, out: Path) -> None:
    """Fail on too many rejects or an empty split (report.json and rejects.tsv are written)."""
    for split, f in report["files"].items():
        # The accounting invariant: every input line is written or rejected, nothing else.
        written = report["splits"][split]["examples"]
        if split == "train" and report["dev_split_from_train"]:
            written += report["splits"]["dev"]["examples"]
        assert f["input_lines"] == written + f["rejected"], (split, f, written)
        counted = f["rejected"] - f["rejected_by_reason"].get("duplicate", 0)
        if f["input_lines"] and counted / f["input_lines"] > cfg.max_reject_ratio:
            worst = _main_reason(f)
            raise TextcnnError(
                f"{counted} of {f['input_lines']} lines rejected ({counted / f['input_lines']:.1%}, "
                f"mostly {worst}: {REASONS[worst]}), more than --max-reject-ratio {cfg.max_reject_ratio}",
                f"see {out / 'rejects.tsv'}; {_fix_for(worst)} or raise --max-reject-ratio", file=f["path"])
    for split, stats in report["splits"].items():
        if stats["examples"] == 0:
            source = report["files"].get(split, report["files"]["train"])
            if split == "dev" and report["dev_split_from_train"]:
                raise TextcnnError("the dev split is empty", "pass --dev or raise --dev-ratio; train has too few "
                                   "lines per label", file=source["path"])
            worst = _main_reason(source) if source["rejected"] else None
            raise TextcnnError(f"the {split} split is empty" + (f": every line rejected, mostly {worst} "
                                                                 f"({REASONS[worst]})" if worst else ""),
                               f"see {out / 'rejects.tsv'}; {_fix_for(worst)}", file=source["path"])


def _main_reason(file_report: dict) -> str:
    reasons = {r: n for r, n in file_report["rejected_by_reason"].items() if r != "duplicate"} or \
        file_report["rejected_by_reason"]
    return max(reasons, key=reasons.get)


def _fix_for(reason: str | None) -> str:
    if reason == "invalid_utf8":
        return "convert the file to UTF-8 (e.g. `iconv -f GBK -t UTF-8`)"
    return "fix the file (or its --format)"
