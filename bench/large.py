"""Section 8: 2,000,000 lines through clean and vocab (THUCNews titles repeated, or synthetic lines
where ../shared/data is absent): time and peak RSS of each, worker processes included."""

from __future__ import annotations

from pathlib import Path

from .common import BIN, THUCNEWS, lines_of, run_measured, synthetic_lines

LINES = 2_000_000
LIMIT_MB = 2048


def run(work: Path, *, thucnews: bool, lines: int = LINES) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    train = work / "train.tsv"
    if thucnews:
        lines_of(THUCNEWS / "train_first45k.tsv", lines, train)
    else:
        synthetic_lines(train, lines)
    clean = run_measured([BIN / "textcnn", "clean", "--train", train, "--out", work / "data", "--quiet"])
    vocab = run_measured([BIN / "textcnn", "vocab", "--data", work / "data", "--out", work / "vocab",
                          "--min-count", "1"])
    return {"lines": lines, "input": "THUCNews titles repeated" if thucnews else "synthetic lines",
            "input_mb": round(train.stat().st_size / 2**20, 1), "limit_mb": LIMIT_MB,
            **{f"{name}_seconds": round(r["seconds"], 1) for name, r in (("clean", clean), ("vocab", vocab))},
            **{f"{name}_peak_mb": round(r["peak_rss_mb"]) for name, r in (("clean", clean), ("vocab", vocab))}}
