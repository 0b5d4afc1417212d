"""Section 5: `textcnn clean` lines/s with the char and jieba tokenisers, one core against all.

Each run is a whole `textcnn clean` process. Its start-up (imports, loading jieba's dictionary)
is serial work that more cores cannot shorten, so it is also measured on its own (a 100-line
input) and the speed-up of the rest is reported beside the end-to-end one."""

from __future__ import annotations

from pathlib import Path

from .common import cores, textcnn


def run(train: Path, work: Path) -> dict:
    lines = sum(1 for _ in train.open("rb"))
    small = work / "first100.tsv"
    with train.open("rb") as f:
        small.write_bytes(b"".join(line for _, line in zip(range(100), f)))
    results = []
    for tokenizer in ("char", "jieba"):
        row = {"tokenizer": tokenizer, "lines": lines}
        start_up = textcnn("clean", "--train", small, "--tokenizer", tokenizer, "--out", work / f"start-{tokenizer}")
        for label, cpus in (("one_core", {0}), ("all_cores", None)):
            out = work / f"clean-{tokenizer}-{label}"
            r = textcnn("clean", "--train", train, "--dev-ratio", "0.1", "--tokenizer", tokenizer, "--out", out,
                        cpus=cpus)
            row[f"{label}_lines_per_second"] = round(lines / r["seconds"], 1)
        one, every = lines / row["one_core_lines_per_second"], lines / row["all_cores_lines_per_second"]
        row["speedup"] = round(one / every, 2)
        row["start_up_seconds"] = round(start_up["seconds"], 2)
        row["speedup_after_start_up"] = round((one - start_up["seconds"]) / (every - start_up["seconds"]), 2)
        results.append(row)
    return {"cores": cores(), "results": results}
