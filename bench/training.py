"""Section 1-3: training throughput of our train step per precision, the PyTorch baseline on the
same batches, and the fraction of the measured GEMM peak reached.

Every implementation is built and warmed up first; then they take turns, a few steps each, for
several rounds, and each reports its median round. A slow spell of this shared machine then
hits all of them alike instead of whichever happened to run at the time."""

from __future__ import annotations

REFERENCE = {"seq_len": 32, "filter_sizes": (2, 3, 4), "num_filters": 256, "embedding_dim": 300,
             "batch_size": 128, "optimizer": "Adam 1e-3", "dropout": 0.5}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def flops_per_example(seq_len: int, embedding_dim: int, filter_sizes, num_filters: int, num_classes: int) -> float:
    """Multiply-adds x 2 of the convolutions and the output layer; x 3 for a training step
    (forward, gradient of the inputs, gradient of the weights). Pooling, ReLU and Adam are
    memory-bound extras not counted, as usual in a roofline."""
    conv = sum(2 * (seq_len - w + 1) * w * embedding_dim * num_filters for w in filter_sizes)
    dense = 2 * len(filter_sizes) * num_filters * num_classes
    return 3.0 * (conv + dense)


def ours(batches, *, vocab_size: int, num_classes: int, precision: str, xla: bool, phases: bool = False):
    """One step of textcnn.train's own compiled step (`make_train_step`), as a blocking callable;
    with phases, a dict of callables instead: the forward pass, forward and backward, the step."""
    import keras
    import tensorflow as tf

    from textcnn.model import build_textcnn
    from textcnn.train import configure_runtime, make_optimizer, make_train_step

    configure_runtime(tf, keras, seed=0)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(precision)
    try:
        model = build_textcnn(vocab_size=vocab_size, num_classes=num_classes, seq_len=REFERENCE["seq_len"],
                              embedding_dim=REFERENCE["embedding_dim"], filter_sizes=REFERENCE["filter_sizes"],
                              num_filters=REFERENCE["num_filters"], dropout=REFERENCE["dropout"], variant="rand")
        step = make_train_step(tf, keras, model, make_optimizer(keras, model, 1e-3, precision), xla=xla)
        tensors = [(tf.constant(x), tf.constant(y)) for x, y in batches]
        fns = {"step": lambda x, y: step(x, y)[0]}
        if phases:
            loss_fn = keras.losses.SparseCategoricalCrossentropy()

            @tf.function(jit_compile=xla)
            def forward(x, y):
                return loss_fn(y, model(x, training=True))

            @tf.function(jit_compile=xla)
            def forward_backward(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                return loss, tape.gradient(loss, model.trainable_variables)

            fns = {"forward": forward, "forward_backward": lambda x, y: forward_backward(x, y)[0], **fns}
        for fn in fns.values():
            float(fn(*tensors[0]))  # traced (and compiled) under this precision
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    calls = {name: (lambda fn: lambda i: float(fn(*tensors[i % len(tensors)])))(fn) for name, fn in fns.items()}
    return calls if phases else calls["step"]


def phases(batches, *, vocab_size: int, num_classes: int, peaks: dict, rounds: int = 5) -> list[dict]:
    """Where a step's time goes, float32 and mixed bfloat16 without XLA: milliseconds and GFLOP/s of
    the forward pass (1/3 of the FLOPs), the backward pass (2/3) and the rest (the optimizer)."""
    from .common import take_turns

    flops = flops_per_example(REFERENCE["seq_len"], REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                              REFERENCE["num_filters"], num_classes) * REFERENCE["batch_size"]
    out = []
    for precision in ("float32", "mixed_bfloat16"):
        calls = ours(batches, vocab_size=vocab_size, num_classes=num_classes, precision=precision, xla=False,
                     phases=True)
        ms = {name: rate.seconds_per_step * 1000 for name, rate in take_turns(calls, rounds=rounds).items()}
        parts = {"forward": (ms["forward"], flops / 3), "backward": (ms["forward_backward"] - ms["forward"], flops * 2 / 3),
                 "optimizer and rest": (ms["step"] - ms["forward_backward"], 0.0)}
        peak = peaks["float32" if precision == "float32" else "bfloat16"]["peak_gflops"]
        for name, (t, f) in parts.items():
            gflops = f / 1e6 / t if t > 0 and f else None
            out.append({"precision": precision, "phase": name, "ms": round(t, 1),
                        "share": round(t / ms["step"], 3), "gflops": gflops and round(gflops, 1),
                        "peak_fraction": gflops and round(gflops / peak, 3)})
    return out


def pytorch(batches, *, vocab_size: int, num_classes: int):
    import torch

    from .torch_textcnn import TorchTextCNN, make_trainer

    torch.manual_seed(0)
    model = TorchTextCNN(vocab_size, num_classes, REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                         REFERENCE["num_filters"], REFERENCE["dropout"])
    step = make_trainer(model)
    tensors = [(torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))) for x, y in batches]
    return lambda i: float(step(*tensors[i % len(tensors)]))


def run(batches, *, vocab_size: int, num_classes: int, peaks: dict, rounds: int = 7) -> dict:
    from .common import take_turns

    flops = flops_per_example(REFERENCE["seq_len"], REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                              REFERENCE["num_filters"], num_classes)
    configs = [(p, x) for p in PRECISIONS for x in (False, True)]
    steps = {"pytorch": pytorch(batches, vocab_size=vocab_size, num_classes=num_classes)}
    for precision, xla in configs:
        steps[(precision, xla)] = ours(batches, vocab_size=vocab_size, num_classes=num_classes,
                                       precision=precision, xla=xla)
    rates = take_turns(steps, rounds=rounds)
    torch_rate = rates["pytorch"].per_second(REFERENCE["batch_size"])
    results = []
    for precision, xla in configs:
        rate = rates[(precision, xla)].per_second(REFERENCE["batch_size"])
        peak = peaks["float32" if precision == "float32" else "bfloat16"]["peak_gflops"]
        results.append({"precision": precision, "xla": xla, "examples_per_second": round(rate, 1),
                        "spread": rates[(precision, xla)].spread,
                        "vs_pytorch": round(rate / torch_rate, 2),
                        "gflops": round(rate * flops / 1e9, 1),
                        "peak_fraction": round(rate * flops / 1e9 / peak, 3),
                        "peak_of": "float32" if precision == "float32" else "bfloat16"})
    fastest = max(results, key=lambda r: r["examples_per_second"])
    profile = phases(batches, vocab_size=vocab_size, num_classes=num_classes, peaks=peaks)
    return {"phases": profile, "reference": {**REFERENCE, "vocab_size": vocab_size, "num_classes": num_classes},
            "flops_per_example": flops, "pytorch_examples_per_second": round(torch_rate, 1),
            "pytorch_spread": rates["pytorch"].spread, "rounds": rounds,
            "ours": results, "fastest": {"precision": fastest["precision"], "xla": fastest["xla"]}}
