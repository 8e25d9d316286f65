"""A decision rule fitted for macro-recall: per-class logit offsets, fitted on validation only.

Macro-recall weighs the three classes equally, and the test set is more negative than train, so the
arg-max of a model trained on the train mix under-predicts the minority class. Adding offsets to the
logits moves the decision boundaries; folding them into the classifier's bias makes the saved model
carry its own decision rule (serving needs no change).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from training.labels import LABELS
from training.metrics import classification_metrics

log = logging.getLogger(__name__)


def fit_logit_offsets(
    logits: np.ndarray, labels: np.ndarray, span: float = 2.0, step: float = 0.05
) -> tuple[np.ndarray, float]:
    """Offsets (neutral fixed at 0) maximising macro-recall on (logits, labels), and that macro-recall.

    Exhaustive grid over the two free offsets; ties go to the smallest change.
    """
    grid = np.round(np.arange(-span, span + step / 2, step), 6)
    best = (classification_metrics(labels, logits.argmax(-1))["macro_recall"], 0.0, np.zeros(len(LABELS)))
    neutral = LABELS.index("neutral")
    free = [i for i in range(len(LABELS)) if i != neutral]
    for a in grid:
        for b in grid:
            offsets = np.zeros(len(LABELS))
            offsets[free] = (a, b)
            score = classification_metrics(labels, (logits + offsets).argmax(-1))["macro_recall"]
            size = abs(a) + abs(b)
            if score > best[0] + 1e-12 or (abs(score - best[0]) <= 1e-12 and size < best[1]):
                best = (score, size, offsets)
    return best[2], best[0]


def fold_offsets_into_bias(model, offsets: np.ndarray) -> None:
    """Add ``offsets`` to the final classifier bias (logits + offsets, exactly)."""
    head = model.classifier if hasattr(model, "classifier") else model.get_output_embeddings()
    with torch.no_grad():
        head.bias += torch.as_tensor(offsets, dtype=head.bias.dtype, device=head.bias.device)
