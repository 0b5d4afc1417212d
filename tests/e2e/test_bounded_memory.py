"""clean and vocab stream their input: peak memory (each step its own process, measured with wait4,
worker processes included) stays nearly flat from 50,000 to 200,000 lines and far below 2 GiB.
`make bench` measures the full 2,000,000 lines (bench/large.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.common import run_measured, synthetic_lines

BIN = Path(sys.executable).parent


def peaks(folder: Path, lines: int) -> dict:
    train = synthetic_lines(folder / "train.tsv", lines)
    clean = run_measured([BIN / "textcnn", "clean", "--train", train, "--out", folder / "data", "--quiet"])
    vocab = run_measured([BIN / "textcnn", "vocab", "--data", folder / "data", "--out", folder / "vocab",
                          "--min-count", "1"])
    return {"clean": clean["peak_rss_mb"], "vocab": vocab["peak_rss_mb"]}


def test_peak_memory_of_clean_and_vocab_does_not_grow_with_the_input(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir(), large.mkdir()
    a, b = peaks(small, 50_000), peaks(large, 200_000)
    for step in ("clean", "vocab"):
        assert b[step] < 2048, (step, a, b)
        assert b[step] < 1.35 * a[step], (step, a, b)  # 4x the lines, nearly the same peak
