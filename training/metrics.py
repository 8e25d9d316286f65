"""TweetEval metrics (macro-averaged recall is the official one) and the confusion-matrix plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.labels import LABELS


def confusion_matrix(y_true, y_pred, n_classes: int = len(LABELS)) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return cm


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def classification_metrics(y_true, y_pred, labels: tuple[str, ...] = LABELS) -> dict[str, float]:
    """macro_recall (official), macro_f1, accuracy, and per-class precision/recall/f1/support.

    A class with no true (or no predicted) examples gets recall (precision) 0, as in scikit-learn.
    """
    cm = confusion_matrix(y_true, y_pred, len(labels))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    recall = _safe_div(tp, support)
    precision = _safe_div(tp, predicted)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    out = {
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
    }
    for i, name in enumerate(labels):
        out[f"{name}_precision"] = float(precision[i])
        out[f"{name}_recall"] = float(recall[i])
        out[f"{name}_f1"] = float(f1[i])
        out[f"{name}_support"] = float(support[i])
    return out


def classification_report(metrics: dict[str, float], labels: tuple[str, ...] = LABELS) -> str:
    lines = [f"{'class':<10} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}"]
    for name in labels:
        lines.append(
            f"{name:<10} {metrics[f'{name}_precision']:>9.4f} {metrics[f'{name}_recall']:>9.4f} "
            f"{metrics[f'{name}_f1']:>9.4f} {int(metrics[f'{name}_support']):>9d}"
        )
    lines.append(
        f"\nmacro-recall (official) {metrics['macro_recall']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   "
        f"accuracy {metrics['accuracy']:.4f}"
    )
    return "\n".join(lines)


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported late: plotting is off the hot paths)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG (creating its folder) and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion_matrix(cm: np.ndarray, path: Path, title: str, labels: tuple[str, ...] = LABELS) -> Path:
    """Counts and row-normalised shares (= per-class recall on the diagonal) as a PNG."""
    plt = pyplot()
    shares = _safe_div(cm.astype(float), cm.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if shares[i, j] > 0.55 else "black"
            ax.text(j, i, f"{cm[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="share of true class")
    return save_figure(fig, path)
