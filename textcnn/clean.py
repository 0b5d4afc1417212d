"""Step 1, clean: read labelled files, normalise, tokenise, split; every line accepted or rejected.

Outputs (in --out): train/dev/test.parquet (columns label, text, tokens, line), report.json,
rejects.tsv (file, line, reason, content), the stopword list and jieba user dictionary used
(so later steps and the exported model tokenise the same way), and the textcnn.json manifest.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import artifacts, text
from .config import CleanConfig
from .errors import TextcnnError
from .readers import read_records, read_word_list, shown

SPLITS = ("train", "dev", "test")
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
    "empty_text": "the text is empty after normalisation",
    "too_long": "the text is longer than --max-chars",
    "no_tokens": "no tokens left after tokenising and removing stopwords",
    "unknown_label": "a dev/test label that train does not have",
    "duplicate": "with --dedupe: the text occurred earlier in the split, or in train",
}


def run(cfg: CleanConfig) -> dict:
    """Clean cfg.train/dev/test into cfg.out; return the report (also written to report.json)."""
    _check_config(cfg)
    out = artifacts.prepare_out(cfg.out)
    stopwords = _load_stopwords(cfg)
    if cfg.tokenizer == "jieba":
        _load_jieba(cfg.user_dict)

    tables, rejects, files = {}, [], {}
    for split in SPLITS:
        path = getattr(cfg, split)
        if path:
            tables[split], file_rejects, files[split] = _read_split(Path(path), cfg, stopwords)
            rejects += file_rejects

    if cfg.dedupe:
        tables, dropped = _dedupe(tables, {split: f["path"] for split, f in files.items()})
        rejects += dropped
    labels = sorted(set(tables["train"]["label"].to_pylist()))
    for split in ("dev", "test"):
        if split in tables:
            tables[split], unknown = _drop_unknown_labels(tables[split], labels, files[split]["path"])
            rejects += unknown
    dev_from_train = "dev" not in tables
    if dev_from_train:
        tables["train"], tables["dev"] = _stratified_split(tables["train"], cfg.dev_ratio, cfg.seed)

    report = _report(cfg, tables, rejects, files, labels, dev_from_train)
    _write_rejects(out / "rejects.tsv", rejects)
    artifacts.write_json(out / "report.json", report)
    _check_report(cfg, report, tables, out)

    for split, table in tables.items():
        with artifacts.atomic_path(out / f"{split}.parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd")
    if stopwords is not None:
        artifacts.write_text(out / "stopwords.txt", "".join(w + "\n" for w in stopwords.to_pylist()))
    if cfg.user_dict:
        with artifacts.atomic_path(out / "user_dict.txt") as tmp:
            shutil.copyfile(cfg.user_dict, tmp)
    artifacts.write_manifest(out, "clean", splits=sorted(tables), preprocessing=preprocessing(cfg))
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


def _read_split(path: Path, cfg: CleanConfig, stopwords) -> tuple[pa.Table, list, dict]:
    """Read one input file; return its accepted rows, its rejects and its line counts."""
    parts, rejects, input_lines = [], [], 0
    for chunk in read_records(path, cfg.format, cfg.text_col, cfg.label_col):
        input_lines += len(chunk)
        rejects += [(str(path), line, reason, content) for line, reason, content in chunk.rejects]
        if not chunk.lines:
            continue
        too_long = np.fromiter((len(t) > cfg.max_chars for t in chunk.texts), bool, len(chunk.texts))
        # Long texts are rejected before normalising so one huge line costs nothing more.
        keep_texts = [t if not long else "" for t, long in zip(chunk.texts, too_long)]
        labels = text.normalize(chunk.labels)
        normalised, tokens = text.preprocess(keep_texts, cfg.tokenizer, cfg.lowercase, stopwords,
                                             workers=cfg.workers, progress=not cfg.quiet)
        reason = np.full(len(chunk.lines), "", dtype=object)
        reason[pc.equal(pc.list_value_length(tokens), 0).to_numpy(zero_copy_only=False)] = "no_tokens"
        reason[pc.equal(normalised, "").to_numpy(zero_copy_only=False)] = "empty_text"
        reason[too_long] = "too_long"
        reason[pc.equal(labels, "").to_numpy(zero_copy_only=False)] = "empty_label"
        bad = reason != ""
        lines = np.asarray(chunk.lines, dtype=np.int64)
        rejects += [(str(path), int(lines[i]), reason[i], shown(f"{chunk.labels[i]}\t{chunk.texts[i]}"))
                    for i in np.flatnonzero(bad)]
        good = pa.array(~bad)
        parts.append(pa.table([labels.filter(good), normalised.filter(good), tokens.filter(good),
                               pa.array(lines[~bad])], schema=SCHEMA))
    table = pa.concat_tables(parts) if parts else SCHEMA.empty_table()
    return table, rejects, {"path": str(path), "input_lines": input_lines}


def _dedupe(tables: dict[str, pa.Table], paths: dict[str, str]) -> tuple[dict[str, pa.Table], list]:
    """Keep the first occurrence of each text in a split; drop dev/test texts that train has."""
    out, rejects = {}, []
    train_texts = None
    for split, table in tables.items():
        texts = table["text"].combine_chunks()
        first = np.zeros(len(table), bool)
        _, first_idx = np.unique(texts.to_numpy(zero_copy_only=False), return_index=True)
        first[first_idx] = True
        if train_texts is not None:
            first &= ~pc.is_in(texts, value_set=train_texts).to_numpy(zero_copy_only=False)
        else:
            train_texts = pc.unique(texts)
        rejects += _rows_as_rejects(table, ~first, "duplicate", paths[split])
        out[split] = table.filter(pa.array(first))
    return out, rejects


def _drop_unknown_labels(table: pa.Table, labels: list[str], path: str) -> tuple[pa.Table, list]:
    known = pc.is_in(table["label"], value_set=pa.array(labels, pa.string())).to_numpy(zero_copy_only=False)
    return table.filter(pa.array(known)), _rows_as_rejects(table, ~known, "unknown_label", path)


def _rows_as_rejects(table: pa.Table, mask: np.ndarray, reason: str, path: str) -> list:
    rows = table.filter(pa.array(mask)).select(["label", "text", "line"]).to_pylist()
    return [(path, r["line"], reason, shown(f"{r['label']}\t{r['text']}")) for r in rows]


def _stratified_split(table: pa.Table, ratio: float, seed: int) -> tuple[pa.Table, pa.Table]:
    """Hold out round(ratio * n) rows of each label (keeping at least one in train), seeded."""
    labels = table["label"].to_numpy()
    groups, group_of = np.unique(labels, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(groups))
    order = np.random.default_rng(seed).permutation(len(labels))
    by_group = np.argsort(group_of[order], kind="stable")  # shuffled order within each group
    rank = np.empty(len(labels), np.int64)
    rank[by_group] = np.arange(len(labels)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n_dev = np.minimum(np.floor(sizes * ratio + 0.5), sizes - 1)
    is_dev = np.empty(len(labels), bool)
    is_dev[order] = rank < n_dev[group_of[order]]
    return table.filter(pa.array(~is_dev)), table.filter(pa.array(is_dev))


def _report(cfg, tables, rejects, files, labels, dev_from_train) -> dict:
    by_file: dict[str, Counter] = {}
    for path, _, reason, _ in rejects:
        by_file.setdefault(path, Counter())[reason] += 1
    per_file = {}
    for split, f in files.items():
        reasons = by_file.get(f["path"], Counter())
        rejected = sum(reasons.values())
        per_file[split] = {**f, "accepted": f["input_lines"] - rejected, "rejected": rejected,
                           "rejected_by_reason": dict(sorted(reasons.items()))}
    all_reasons = sum(by_file.values(), Counter())
    total = {k: sum(f[k] for f in per_file.values()) for k in ("input_lines", "accepted", "rejected")}
    return {
        "config": asdict(cfg),
        "files": per_file,
        "total": total,
        "rejected_by_reason": dict(sorted(all_reasons.items())),
        "dev_split_from_train": dev_from_train,
        "labels": labels,
        "splits": {split: _split_stats(t) for split, t in tables.items()},
    }


def _split_stats(table: pa.Table) -> dict:
    lengths = pc.list_value_length(table["tokens"]).to_numpy(zero_copy_only=False) if len(table) else np.zeros(1)
    counts = pc.value_counts(table["label"]).to_pylist() if len(table) else []
    pct = np.percentile(lengths, [50, 90, 95, 99])
    return {
        "examples": len(table),
        "labels": {c["values"]: c["counts"] for c in sorted(counts, key=lambda c: c["values"])},
        "tokens_per_text": {"mean": round(float(lengths.mean()), 2), "p50": float(pct[0]),
                            "p90": float(pct[1]), "p95": float(pct[2]), "p99": float(pct[3]),
                            "max": int(lengths.max())},
    }


def _check_report(cfg: CleanConfig, report: dict, tables: dict, out: Path) -> None:
    """Fail on too many rejects or an empty split (report.json and rejects.tsv are written)."""
    for split, f in report["files"].items():
        # The accounting invariant: every input line is written or rejected, nothing else.
        written = len(tables[split])
        if split == "train" and report["dev_split_from_train"]:
            written += len(tables["dev"])
        assert f["input_lines"] == written + f["rejected"], (split, f, written)
        counted = f["rejected"] - f["rejected_by_reason"].get("duplicate", 0)
        if f["input_lines"] and counted / f["input_lines"] > cfg.max_reject_ratio:
            worst = max((r for r in f["rejected_by_reason"] if r != "duplicate"),
                        key=f["rejected_by_reason"].get)
            raise TextcnnError(
                f"{counted} of {f['input_lines']} lines rejected ({counted / f['input_lines']:.1%}, "
                f"mostly {worst}: {REASONS[worst]}), more than --max-reject-ratio {cfg.max_reject_ratio}",
                f"see {out / 'rejects.tsv'}; fix the file (or its --format) or raise --max-reject-ratio",
                file=f["path"])
    for split, table in tables.items():
        if len(table) == 0:
            source = report["files"].get(split, report["files"]["train"])["path"]
            fix = ("pass --dev or raise --dev-ratio; train has too few lines per label"
                   if split == "dev" and report["dev_split_from_train"]
                   else f"see {out / 'rejects.tsv'} for why every line was rejected")
            raise TextcnnError(f"the {split} split is empty", fix, file=source)


def _write_rejects(path: Path, rejects: list) -> None:
    with artifacts.atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        f.write("file\tline\treason\tcontent\n")
        for file, line, reason, content in sorted(rejects, key=lambda r: (r[0], r[1])):
            f.write(f"{file}\t{line}\t{reason}\t{content}\n")
