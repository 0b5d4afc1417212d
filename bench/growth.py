"""Section 7: time and peak memory of clean, vocab and one training epoch at 1x, 2x and 4x the
THUCNews training lines (the file repeated), each step a separate process measured with wait4."""

from __future__ import annotations

import json
from pathlib import Path

from .common import THUCNEWS, repeat_lines, textcnn

FACTORS = (1, 2, 4)


def run(work: Path, *, epoch_lines: int) -> dict:
    """epoch_lines: base size of the training-epoch measurement (the first lines of the file), so
    that 7 epochs in all fit the benchmark's time budget; clean and vocab use the whole file."""
    source = THUCNEWS / "train_first45k.tsv"
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.tsv"
    with source.open("rb") as f:
        base.write_bytes(b"".join(line for _, line in zip(range(epoch_lines), f)))
    rows = []
    for factor in FACTORS:
        folder = work / f"x{factor}"
        folder.mkdir(parents=True, exist_ok=True)
        train = repeat_lines(source, factor, folder / "train.tsv")
        clean = textcnn("clean", "--train", train, "--dev", THUCNEWS / "dev.tsv", "--out", folder / "data")
        vocab = textcnn("vocab", "--data", folder / "data", "--out", folder / "vocab", "--min-count", "1",
                        "--embedding-dim", "300")
        epoch_train = repeat_lines(base, factor, folder / "epoch.tsv")
        textcnn("clean", "--train", epoch_train, "--dev", THUCNEWS / "dev.tsv", "--out", folder / "epoch-data")
        epoch = textcnn("train", "--data", folder / "epoch-data", "--vocab", folder / "vocab", "--out",
                        folder / "model", "--epochs", "1", "--seq-len", "32", "--filter-sizes", "2,3,4",
                        "--num-filters", "256", "--batch-size", "128", "--early-stop-patience", "0",
                        "--eval-every", "1000000", "--checkpoint-every", "1000000")
        in_loop = json.loads((folder / "model" / "history.json").read_text())["summary"]["train_seconds"]
        rows.append({"factor": factor,
                     "lines": factor * sum(1 for _ in source.open("rb")),
                     "epoch_lines": factor * epoch_lines,
                     "clean_seconds": round(clean["seconds"], 2), "clean_peak_mb": round(clean["peak_rss_mb"]),
                     "vocab_seconds": round(vocab["seconds"], 2), "vocab_peak_mb": round(vocab["peak_rss_mb"]),
                     "epoch_seconds": round(epoch["seconds"], 2), "epoch_loop_seconds": in_loop,
                     "epoch_peak_mb": round(epoch["peak_rss_mb"])})
    first, last = rows[0], rows[-1]
    return {"rows": rows, "time_growth_4x": {k: round(last[f"{k}_seconds"] / first[f"{k}_seconds"], 2)
                                             for k in ("clean", "vocab", "epoch")},
            "memory_growth_4x": {k: round(last[f"{k}_peak_mb"] / first[f"{k}_peak_mb"], 2)
                                 for k in ("clean", "vocab", "epoch")}}
