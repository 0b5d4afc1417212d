"""Training throughput of the textcnn model on an accelerator, through Keras 3's JAX backend.

bench/gpu.sh runs it on a GPU machine, where JAX and PyTorch are installed but TensorFlow is
not. The model is textcnn.model.build_textcnn itself (it uses keras and keras.ops only); the
step is Keras's own jit-compiled train step. Reports examples/s per precision and batch size,
the measured matmul peak and the fraction of it reached; PyTorch on the same device beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def matmul_peak(dtype: str, n: int) -> float:
    """TFLOP/s of an n x n x n matmul in dtype on JAX's default device (best of 10)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(10):
        started = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best / 1e12


def keras_throughput(precision: str, batch_size: int, steps: int, vocab_size: int, num_classes: int) -> float:
    import keras
    import numpy as np

    from bench.training import REFERENCE
    from textcnn.model import build_textcnn

    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = build_textcnn(vocab_size=vocab_size, num_classes=num_classes, seq_len=REFERENCE["seq_len"],
                          embedding_dim=REFERENCE["embedding_dim"], filter_sizes=REFERENCE["filter_sizes"],
                          num_filters=REFERENCE["num_filters"], dropout=REFERENCE["dropout"], variant="rand")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab_size, (8, batch_size, REFERENCE["seq_len"]), dtype=np.int32)
    y = rng.integers(0, num_classes, (8, batch_size), dtype=np.int32)
    for i in range(3):
        model.train_on_batch(x[i], y[i])
    started = time.perf_counter()
    for i in range(steps):
        model.train_on_batch(x[i % 8], y[i % 8])  # returns the loss as a number: waits for the step
    keras.mixed_precision.set_dtype_policy("float32")
    return batch_size * steps / (time.perf_counter() - started)


def torch_throughput(batch_size: int, steps: int, vocab_size: int, num_classes: int, dtype: str) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    from bench.torch_textcnn import TorchTextCNN, make_trainer
    from bench.training import REFERENCE

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = TorchTextCNN(vocab_size, num_classes, REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                         REFERENCE["num_filters"]).to(device)
    step = make_trainer(model)
    x = torch.randint(2, vocab_size, (8, batch_size, REFERENCE["seq_len"]), device=device)
    y = torch.randint(0, num_classes, (8, batch_size), device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    with autocast:
        for i in range(3):
            float(step(x[i], y[i]))
        started = time.perf_counter()
        for i in range(steps):
            loss = step(x[i % 8], y[i % 8])
        float(loss)
    return batch_size * steps / (time.perf_counter() - started)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch-sizes", default="128,1024")
    ap.add_argument("--precisions", default="float32,mixed_bfloat16")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--matmul-size", type=int, default=8192)
    ap.add_argument("--vocab-size", type=int, default=5000)
    ap.add_argument("--out", help="write the results here as JSON")
    args = ap.parse_args(argv)

    import jax

    from bench.training import REFERENCE, flops_per_example

    classes = 10
    flops = flops_per_example(REFERENCE["seq_len"], REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                              REFERENCE["num_filters"], classes)
    peaks = {p: matmul_peak("float32" if p == "float32" else "bfloat16", args.matmul_size)
             for p in args.precisions.split(",")}
    r = {"device": str(jax.devices()[0]), "backend": "jax", "jax": jax.__version__,
         "flops_per_example": flops, "matmul_peak_tflops": {p: round(v, 1) for p, v in peaks.items()}, "runs": []}
    for precision in args.precisions.split(","):
        for batch_size in map(int, args.batch_sizes.split(",")):
            rate = keras_throughput(precision, batch_size, args.steps, args.vocab_size, classes)
            torch_rate = torch_throughput(batch_size, args.steps, args.vocab_size, classes,
                                          "float32" if precision == "float32" else "bfloat16")
            run = {"precision": precision, "batch_size": batch_size, "examples_per_second": round(rate, 1),
                   "tflops": round(rate * flops / 1e12, 2), "peak_fraction": round(rate * flops / 1e12 / peaks[precision], 3),
                   "pytorch_examples_per_second": round(torch_rate, 1) if torch_rate else None}
            r["runs"].append(run)
            print(json.dumps(run), flush=True)
    text = json.dumps(r, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
