"""Step 4, evaluate: metrics of the trained model on one split (test by default).

Outputs (in --out): metrics.json (accuracy, macro/weighted precision, recall, F1, macro F-beta,
per class), classification_report.txt, confusion_matrix.csv and .png, predictions.tsv (line,
text, true, predicted, probability), mistakes.tsv (the most confident wrong predictions),
report.html (all of it on one page) and the textcnn.json manifest.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import artifacts
from .config import EvaluateConfig
from .errors import TextcnnError
from .features import Vocabulary, check_same_preprocessing, load_split
from .metrics import classification_metrics


def run(cfg: EvaluateConfig) -> dict:
    """Evaluate cfg.model on cfg.split of cfg.data into cfg.out; return metrics.json's content."""
    data_meta = artifacts.read_manifest(cfg.data, "clean", "--data")
    vocab = Vocabulary.load(cfg.vocab)
    check_same_preprocessing(data_meta, vocab, cfg.data)
    model_meta = load_model_manifest(cfg.model, vocab)
    table = load_split(cfg.data, cfg.split)
    out = artifacts.prepare_out(cfg.out)

    import keras
    from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

    x = vocab.token_ids(table["tokens"], model_meta["seq_len"])
    y = vocab.label_ids(table["label"], Path(cfg.data) / f"{cfg.split}.parquet")
    model = keras.saving.load_model(Path(cfg.model) / "model.keras", safe_mode=True)
    probs = model.predict(x, batch_size=cfg.batch_size, verbose=0)
    y_pred = probs.argmax(-1)
    labels, ids = vocab.labels, np.arange(len(vocab.labels))

    metrics = {"split": cfg.split, "examples": len(y),
               **classification_metrics(y, probs, len(labels), cfg.beta)}
    p, r, f, support = precision_recall_fscore_support(y, y_pred, labels=ids, zero_division=0)
    metrics["per_class"] = {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                  "support": int(support[i])} for i, lab in enumerate(labels)}
    matrix = confusion_matrix(y, y_pred, labels=ids)

    artifacts.write_json(out / "metrics.json", metrics)
    artifacts.write_text(out / "classification_report.txt", classification_report(
        y, y_pred, labels=ids, target_names=labels, digits=4, zero_division=0))
    artifacts.write_text(out / "confusion_matrix.csv", _matrix_csv(matrix, labels))
    with artifacts.atomic_path(out / "confusion_matrix.png") as tmp:
        plot_confusion_matrix(matrix, labels, tmp, title=f"{cfg.split}: accuracy {metrics['accuracy']:.4f}")
    confidence = probs[np.arange(len(y)), y_pred]
    rows = _prediction_rows(table, labels, y, y_pred, confidence)
    artifacts.write_text(out / "predictions.tsv", _tsv(rows))
    wrong = np.flatnonzero(y != y_pred)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][: cfg.top_mistakes]
    artifacts.write_text(out / "mistakes.tsv", _tsv([rows[0]] + [rows[i + 1] for i in worst]))
    artifacts.write_text(out / "report.html", html_report(metrics, out / "confusion_matrix.png",
                                                          [rows[i + 1] for i in worst]))
    artifacts.write_manifest(out, "evaluate", config=asdict(cfg), accuracy=metrics["accuracy"])
    return metrics


def load_model_manifest(model: str | Path, vocab: Vocabulary) -> dict:
    """The train manifest of `model`, checked against the vocabulary it is used with."""
    meta = artifacts.read_manifest(model, "train", "--model")
    if meta["vocab_size"] != len(vocab.tokens) or meta["labels"] != vocab.labels:
        raise TextcnnError(f"was trained with another vocabulary ({meta['vocab_size']} tokens, "
                           f"{len(meta['labels'])} labels; {vocab.folder} has {len(vocab.tokens)} and "
                           f"{len(vocab.labels)})", "pass the --vocab the model was trained with", file=model)
    return meta


def html_report(metrics: dict, matrix_png: Path, mistakes: list[list[str]]) -> str:
    """One self-contained page: headline metrics, per-class table, confusion matrix, top mistakes."""
    import base64
    from html import escape

    head = ["accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "macro_fbeta", "loss"]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{metrics[k]:.4f}</td></tr>" for k in head)
    per_class = "".join(
        f"<tr><td>{escape(lab)}</td><td>{m['precision']:.4f}</td><td>{m['recall']:.4f}</td>"
        f"<td>{m['f1']:.4f}</td><td>{m['support']}</td></tr>" for lab, m in metrics["per_class"].items())
    wrong = "".join(f"<tr><td>{escape(r[0])}</td><td>{escape(r[1])}</td><td>{escape(r[2])}</td>"
                    f"<td>{escape(r[3])}</td><td>{escape(r[4])}</td></tr>" for r in mistakes)
    png = base64.b64encode(matrix_png.read_bytes()).decode()
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>textcnn evaluation: {escape(metrics['split'])}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style></head><body>
<h1>Evaluation on {escape(metrics['split'])} ({metrics['examples']} examples)</h1>
<table>{cells}</table>
<h2>Per class</h2>
<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>{per_class}</table>
<h2>Confusion matrix</h2><img alt="confusion matrix" src="data:image/png;base64,{png}">
<h2>Most confident mistakes</h2>
<table><tr><th>line</th><th>text</th><th>true</th><th>predicted</th><th>probability</th></tr>{wrong}</table>
</body></html>
"""


def _matrix_csv(matrix: np.ndarray, labels: list[str]) -> str:
    lines = ["true\\predicted," + ",".join(labels)]
    lines += [f"{lab}," + ",".join(map(str, row)) for lab, row in zip(labels, matrix)]
    return "\n".join(lines) + "\n"


def _prediction_rows(table, labels, y, y_pred, confidence) -> list[list[str]]:
    names = np.asarray(labels, dtype=object)
    rows = [["line", "text", "true", "predicted", "probability"]]
    for line, text, t, p, c in zip(table["line"].to_pylist(), table["text"].to_pylist(),
                                   names[y], names[y_pred], confidence):
        rows.append([str(line), text, t, p, f"{c:.6f}"])
    return rows


def _tsv(rows: list[list[str]]) -> str:
    # Cleaned texts hold no TAB or line break, so plain joining is lossless.
    return "".join("\t".join(r) + "\n" for r in rows)


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: Path, title: str = "") -> None:
    """A PNG of the matrix: counts in the cells, colour by the share of the true class."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = font_for(labels)
    names = labels if font else [str(i) for i in range(len(labels))]
    n = len(labels)
    size = max(5.0, 0.45 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=100)
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(n)
    ax.set_xticks(ticks, names, rotation=45, ha="right", fontfamily=font or None)
    ax.set_yticks(ticks, names, fontfamily=font or None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title if font else f"{title}\n(class numbers: no installed font has these labels' "
                 "characters; names in confusion_matrix.csv)", fontsize=9 if not font else None)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def font_for(labels: list[str]) -> str | None:
    """A font family with a glyph for every character of the labels, or None."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    needed = {ord(c) for lab in labels for c in lab if not c.isspace()}
    default = font_manager.findfont(font_manager.FontProperties())
    known = {f.fname for f in font_manager.fontManager.ttflist}
    # Fonts installed after matplotlib built its cache are found by scanning the system folders.
    candidates = [default] + sorted((known | set(font_manager.findSystemFonts())) - {default})
    for path in candidates:
        try:
            font = FT2Font(path)
        except (OSError, RuntimeError):
            continue
        # matplotlib's "Last Resort" font maps every character to a placeholder box.
        if needed <= set(font.get_charmap()) and not font.family_name.startswith("Last Resort"):
            if path not in known:
                font_manager.fontManager.addfont(path)
            return font.family_name
    return None
