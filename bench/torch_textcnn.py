"""TextCNN written the usual PyTorch way, as the baseline the benchmark compares against.

Embedding -> one Conv2d per filter width over (seq_len x embedding_dim) -> ReLU -> max-pool over
time -> concatenate -> dropout -> linear, trained with Adam on cross-entropy: the layout of the
popular Chinese-Text-Classification-Pytorch TextCNN, written here from the paper's description.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class TorchTextCNN(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int, filter_sizes, num_filters: int,
                 dropout: float = 0.5, embeddings: np.ndarray | None = None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        if embeddings is not None:
            self.embedding.weight.data.copy_(torch.from_numpy(embeddings))
        self.convs = nn.ModuleList(nn.Conv2d(1, num_filters, (k, embedding_dim)) for k in filter_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(filter_sizes), num_classes)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(token_ids).unsqueeze(1)                  # (B, 1, T, E)
        pooled = [F.relu(conv(x)).squeeze(3).amax(dim=2) for conv in self.convs]
        return self.fc(self.dropout(torch.cat(pooled, 1)))


def make_trainer(model: TorchTextCNN, lr: float = 1e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def train_step(x: torch.Tensor, y: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return train_step


def accuracy(model: TorchTextCNN, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    model.eval()
    with torch.inference_mode():
        predicted = np.concatenate([model(torch.from_numpy(x[i:i + batch_size])).argmax(1).numpy()
                                    for i in range(0, len(x), batch_size)])
    model.train()
    return float((predicted == y).mean())


def train_to_accuracy(model: TorchTextCNN, x_train, y_train, x_test, y_test, *, target: float, max_epochs: int,
                      batch_size: int = 128, seed: int = 0) -> dict:
    """Train epoch by epoch until test accuracy reaches target; time counts training only."""
    torch.manual_seed(seed)
    step = make_trainer(model)
    rng = np.random.default_rng(seed)
    trained, curve = 0.0, []
    for epoch in range(max_epochs):
        order = rng.permutation(len(x_train))
        started = time.perf_counter()
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            step(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]))
        trained += time.perf_counter() - started
        acc = accuracy(model, x_test, y_test)
        curve.append({"epoch": epoch + 1, "train_seconds": round(trained, 1), "test_accuracy": round(acc, 4)})
        if acc >= target:
            return {"reached": True, "seconds": trained, "epochs": epoch + 1, "test_accuracy": acc, "curve": curve}
    return {"reached": False, "seconds": trained, "epochs": max_epochs, "test_accuracy": curve[-1]["test_accuracy"],
            "curve": curve}
