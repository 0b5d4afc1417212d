"""Section 4: serving the exported SavedModel, raw text in, label out."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .common import textcnn, time_steps


def run(export_dir: Path, texts: list[str], work: Path) -> dict:
    import tensorflow as tf

    from textcnn.predict import find_version

    serve = tf.saved_model.load(str(find_version(export_dir))).signatures["serving_default"]
    batch = tf.constant((texts * (256 // len(texts) + 1))[:256])
    batched = time_steps(lambda: serve(text=batch)["label"].numpy(), [()], warmup=5, max_steps=200, max_seconds=10)

    singles = [tf.constant([t]) for t in texts[:200]]
    for t in singles[:20]:
        serve(text=t)["label"].numpy()
    latencies = []
    for i in range(2000):
        started = time.perf_counter()
        serve(text=singles[i % len(singles)])["label"].numpy()
        latencies.append(time.perf_counter() - started)
    ms = np.array(latencies) * 1000

    lines = work / "predict_10k.txt"
    lines.write_text("".join(t.replace("\n", " ") + "\n" for t in (texts * (10_000 // len(texts) + 1))[:10_000]),
                     encoding="utf-8")
    cli = textcnn("predict", "--model", export_dir, lines)
    predicted = cli["output"].count("\n")
    return {
        "batch256_texts_per_second": round(batched.per_second(256), 1),
        "batch1_p50_ms": round(float(np.percentile(ms, 50)), 3),
        "batch1_p99_ms": round(float(np.percentile(ms, 99)), 3),
        "predict_cli_10k_seconds": round(cli["seconds"], 2),
        "predict_cli_lines_per_second": round(10_000 / cli["seconds"], 1),
        "predict_cli_lines_out": predicted,
    }
