"""Section 6: wall time to the THUCNews test-accuracy target, our whole pipeline against PyTorch.

Ours: `textcnn-pipeline run` with examples/thucnews-fast.yaml (the reference architecture, 3 epochs,
warm-up and linear decay of the learning rate), everything included (cleaning, vocab with the
Tencent vectors, training, evaluation, export, MLflow).
PyTorch: only its training loop, on token ids and vectors our clean/vocab steps made (given to it
for free), checked against the test set after every epoch until it reaches the target."""

from __future__ import annotations

import re
from pathlib import Path

from .common import BIN, ROOT, TARGET_ACCURACY, TENCENT_VECTORS, THUCNEWS, run_measured


CONFIG = ROOT / "examples" / "thucnews-fast.yaml"


def ours(work: Path, *, precision: str = "float32", xla: bool = False) -> dict:
    workspace = work / "pipeline"
    r = run_measured([str(BIN / "textcnn-pipeline"), "run", "--config", str(CONFIG),
                      "--train", str(THUCNEWS / "train_first45k.tsv"), "--dev", str(THUCNEWS / "dev.tsv"),
                      "--test", str(THUCNEWS / "test.tsv"), "--pretrained", str(TENCENT_VECTORS),
                      "--workspace", str(workspace), "--param", f"precision={precision}",
                      "--param", f"xla={str(xla).lower()}", "--param", f"min_accuracy={TARGET_ACCURACY}"],
                     env={"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"})
    accuracy = float(re.search(r"test metrics: accuracy ([0-9.]+)", r["output"]).group(1))
    exported = re.search(r"exported model: (\S+)", r["output"])
    return {"seconds": round(r["seconds"], 1), "test_accuracy": accuracy, "reached": accuracy >= TARGET_ACCURACY,
            "precision": precision, "xla": xla, "config": CONFIG.name, "export": exported.group(1) if exported else None}


def pytorch(data: Path, vocab_dir: Path, *, max_epochs: int) -> dict:
    import torch

    from textcnn.features import Vocabulary, load_split

    from .torch_textcnn import TorchTextCNN, train_to_accuracy

    vocab = Vocabulary.load(vocab_dir)
    train, test = load_split(data, "train"), load_split(data, "test")
    x_train = vocab.token_ids(train["tokens"], 32).astype("int64")
    y_train = vocab.label_ids(train["label"], data / "train.parquet").astype("int64")
    x_test = vocab.token_ids(test["tokens"], 32).astype("int64")
    y_test = vocab.label_ids(test["label"], data / "test.parquet")
    torch.manual_seed(42)
    embeddings = vocab.embeddings()
    model = TorchTextCNN(len(vocab.tokens), len(vocab.labels), embeddings.shape[1], (2, 3, 4), 256, 0.5, embeddings)
    result = train_to_accuracy(model, x_train, y_train, x_test, y_test, target=TARGET_ACCURACY,
                               max_epochs=max_epochs, seed=42)
    result["seconds"] = round(result["seconds"], 1)
    return result


def run(work: Path, data: Path, vocab_dir: Path, *, precision: str, xla: bool, max_torch_epochs: int) -> dict:
    mine = ours(work, precision=precision, xla=xla)
    theirs = pytorch(data, vocab_dir, max_epochs=max_torch_epochs)
    ratio = mine["seconds"] / theirs["seconds"]
    return {"target": TARGET_ACCURACY, "ours": mine, "pytorch": theirs,
            # When PyTorch never got there, its time is a lower bound and so is the true speed-up.
            "ours_over_pytorch": round(ratio, 3), "pytorch_reached": theirs["reached"]}
