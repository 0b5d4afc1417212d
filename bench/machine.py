"""The machine the numbers come from, and its measured matrix-multiply peak."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path

from .common import cores

# Shapes: a large square GEMM, and the three GEMMs of a TextCNN step (positions x embedding x filters).
GEMM_SHAPES = ((2048, 2048, 2048), (4096, 300, 2304), (300, 4096, 2304), (4096, 2304, 300))
FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")


def describe() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    versions = {}
    for package in ("tensorflow-cpu", "tensorflow", "keras", "torch", "jax", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": model,
        "cores": cores(),
        "cpu_features": [f for f in FEATURES if f in flags],
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "versions": versions,
    }


def gemm_peak(dtype: str, *, seconds_per_shape: float = 3.0) -> dict:
    """Best GFLOP/s of TensorFlow matmul over GEMM_SHAPES, in `dtype` (float32 or bfloat16)."""
    import tensorflow as tf

    matmul = tf.function(lambda a, b: tf.matmul(a, b))
    by_shape = {}
    for m, k, n in GEMM_SHAPES:
        a = tf.cast(tf.random.normal((m, k)), dtype)
        b = tf.cast(tf.random.normal((k, n)), dtype)
        matmul(a, b).numpy()
        best, deadline = float("inf"), time.perf_counter() + seconds_per_shape
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            matmul(a, b).numpy()
            best = min(best, time.perf_counter() - started)
        by_shape[f"{m}x{k}x{n}"] = round(2 * m * k * n / best / 1e9, 1)
    return {"peak_gflops": max(by_shape.values()), "by_shape_gflops": by_shape}
