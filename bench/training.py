"""Section 1-3: training throughput of our train step per precision, the PyTorch baseline on the
same batches, and the fraction of the measured GEMM peak reached."""

from __future__ import annotations

from .common import time_steps

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


def ours(batches, *, vocab_size: int, num_classes: int, precision: str, xla: bool) -> float:
    """Examples/s of textcnn.train's own compiled step on these batches."""
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
        rate = time_steps(lambda x, y: float(step(x, y)[0]), tensors)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return rate.per_second(REFERENCE["batch_size"])


def pytorch(batches, *, vocab_size: int, num_classes: int) -> float:
    import torch

    from .torch_textcnn import TorchTextCNN, make_trainer

    torch.manual_seed(0)
    model = TorchTextCNN(vocab_size, num_classes, REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                         REFERENCE["num_filters"], REFERENCE["dropout"])
    step = make_trainer(model)
    tensors = [(torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))) for x, y in batches]
    rate = time_steps(lambda x, y: float(step(x, y)), tensors)
    return rate.per_second(REFERENCE["batch_size"])


def run(batches, *, vocab_size: int, num_classes: int, peaks: dict) -> dict:
    flops = flops_per_example(REFERENCE["seq_len"], REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                              REFERENCE["num_filters"], num_classes)
    torch_rate = pytorch(batches, vocab_size=vocab_size, num_classes=num_classes)
    results = []
    for precision in PRECISIONS:
        peak = peaks["float32" if precision == "float32" else "bfloat16"]["peak_gflops"]
        for xla in (False, True):
            rate = ours(batches, vocab_size=vocab_size, num_classes=num_classes, precision=precision, xla=xla)
            results.append({"precision": precision, "xla": xla, "examples_per_second": round(rate, 1),
                            "vs_pytorch": round(rate / torch_rate, 2),
                            "gflops": round(rate * flops / 1e9, 1),
                            "peak_fraction": round(rate * flops / 1e9 / peak, 3),
                            "peak_of": "float32" if precision == "float32" else "bfloat16"})
    fastest = max(results, key=lambda r: r["examples_per_second"])
    return {"reference": {**REFERENCE, "vocab_size": vocab_size, "num_classes": num_classes},
            "flops_per_example": flops, "pytorch_examples_per_second": round(torch_rate, 1),
            "ours": results, "fastest": {"precision": fastest["precision"], "xla": fastest["xla"]}}
