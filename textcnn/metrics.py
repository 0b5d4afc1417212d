"""Classification metrics from true labels and predicted probabilities (scikit-learn)."""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, num_classes: int, beta: float = 1.0) -> dict:
    """Loss, accuracy and macro/weighted precision, recall, F1 and F-beta over the whole set."""
    from sklearn.metrics import accuracy_score, fbeta_score, precision_recall_fscore_support

    y_pred = probs.argmax(-1)
    labels = np.arange(num_classes)
    eps = np.finfo(np.float32).tiny
    loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y_true)), y_true], eps))))
    out = {"loss": loss, "accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                     zero_division=0)
        out.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
    out["beta"] = beta
    out["macro_fbeta"] = float(fbeta_score(y_true, y_pred, beta=beta, labels=labels, average="macro",
                                           zero_division=0))
    return out
