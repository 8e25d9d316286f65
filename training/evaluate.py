"""Evaluate any logged model (``models:/...``, ``runs:/...``) on one split, the TweetEval way."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from training.config import Config
from training.data import load_splits
from training.inference import predict_logits
from training.metrics import (
    classification_metrics,
    classification_report,
    confusion_matrix,
    plot_confusion_matrix,
)
from training.registry import load_components

log = logging.getLogger(__name__)


def evaluate(cfg: Config, model_uri: str, split: str, out_dir: Path) -> dict[str, float]:
    """Metrics JSON, classification report and confusion-matrix PNG for ``split`` in ``out_dir``."""
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    datasets, _ = load_splits(cfg.data, seed=cfg.train.seed)
    model, tokenizer = load_components(model_uri)
    data = datasets[split]
    logits = predict_logits(
        model, tokenizer, list(data["text"]), cfg.train.eval_batch_size, cfg.model.max_length, progress=True
    )
    y_true, y_pred = np.asarray(data["label"]), logits.argmax(-1)
    metrics = classification_metrics(y_true, y_pred)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"metrics_{split}.json").write_text(json.dumps({"model_uri": model_uri, **metrics}, indent=2))
    report = classification_report(metrics)
    (out_dir / f"classification_report_{split}.txt").write_text(report + "\n")
    plot_confusion_matrix(
        confusion_matrix(y_true, y_pred), out_dir / f"confusion_{split}.png", f"{split}: {model_uri}"
    )
    print(f"{model_uri} on {split} ({len(y_true)} tweets)\n{report}\nwritten to {out_dir}")
    return metrics
