"""Section 5: `textcnn clean` lines/s with the char and jieba tokenisers, one core against all."""

from __future__ import annotations

from pathlib import Path

from .common import cores, textcnn


def run(train: Path, work: Path) -> dict:
    lines = sum(1 for _ in train.open("rb"))
    results = []
    for tokenizer in ("char", "jieba"):
        row = {"tokenizer": tokenizer, "lines": lines}
        for label, cpus in (("one_core", {0}), ("all_cores", None)):
            out = work / f"clean-{tokenizer}-{label}"
            r = textcnn("clean", "--train", train, "--dev-ratio", "0.1", "--tokenizer", tokenizer, "--out", out,
                        cpus=cpus)
            row[f"{label}_lines_per_second"] = round(lines / r["seconds"], 1)
        row["speedup"] = round(row["all_cores_lines_per_second"] / row["one_core_lines_per_second"], 2)
        results.append(row)
    return {"cores": cores(), "results": results}
