"""Fine-tune with the Hugging Face Trainer (CPU, one GPU or torchrun/accelerate multi-GPU),
track the run in MLflow, evaluate on test once, register the model and decide the alias."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from training.calibrate import fit_logit_offsets, fold_offsets_into_bias
from training.config import Config, flatten, to_yaml
from training.data import DataReport, load_splits
from training.inference import predict_logits
from training.labels import LABELS
from training.metrics import (
    classification_metrics,
    classification_report,
    confusion_matrix,
    plot_confusion_matrix,
)
from training.model_card import render_model_card
from training.modeling import build_model
from training.registry import (
    AliasDecision,
    configure_mlflow,
    git_commit,
    log_transformers_model,
    promote_if_better,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_id: str | None
    model_uri: str | None
    registered_version: str | None
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    alias: AliasDecision | None
    train_losses: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0


class MlflowMetricsCallback(TrainerCallback):
    """Log the Trainer's numeric logs (loss, lr, eval metrics) to the active MLflow run."""

    def __init__(self) -> None:
        self.train_losses: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            self.train_losses.append(float(logs["loss"]))
        numeric = {
            k.replace("eval_", "val_"): float(v) for k, v in logs.items() if isinstance(v, int | float)
        }
        if numeric and mlflow.active_run():
            mlflow.log_metrics(numeric, step=state.global_step)


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _compute_metrics(pred: EvalPrediction) -> dict[str, float]:
    return classification_metrics(pred.label_ids, np.argmax(pred.predictions, axis=-1))


def _precision_flags(precision: str) -> dict[str, bool]:
    if precision == "auto":
        if not torch.cuda.is_available():
            return {}
        return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def _training_args(cfg: Config) -> TrainingArguments:
    t = cfg.train
    return TrainingArguments(
        output_dir=str(t.output_dir),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.train_batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        warmup_steps=t.warmup_ratio,  # a float < 1 is a share of the total steps
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        label_smoothing_factor=t.label_smoothing,
        seed=t.seed,
        eval_strategy=t.eval_strategy,
        eval_steps=t.eval_steps,
        save_strategy=t.eval_strategy,
        save_steps=t.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_recall",
        greater_is_better=True,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        report_to="none",  # MLflow logging is ours (MlflowMetricsCallback), with our metric names
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **_precision_flags(t.precision),
    )


def _tokenize(datasets, tokenizer, max_length: int):
    def encode(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    return datasets.map(encode, batched=True, remove_columns=["text"], desc="tokenize")


def _log_run_inputs(cfg: Config, report: DataReport) -> None:
    mlflow.log_params(flatten(cfg))
    mlflow.log_text(to_yaml(cfg), "config/resolved.yaml")
    mlflow.log_dict(report.as_dict(), "data/report.json")
    mlflow.log_metrics(report.metrics())
    for name, rep in report.splits.items():
        mlflow.set_tag(f"data.{name}.sha256", rep.sha256)
    commit = git_commit()
    if commit:
        mlflow.set_tag("git_commit", commit)


def _predict(model, tokenizer, dataset, cfg: Config) -> np.ndarray:
    texts = list(dataset["text"])
    return predict_logits(
        model, tokenizer, texts, cfg.train.eval_batch_size, cfg.model.max_length, progress=True
    )


def _log_split(logits: np.ndarray, dataset, split: str, out_dir: Path, step: int = 0) -> dict[str, float]:
    """Metrics + confusion matrix + report for one split, logged as ``{split}_*`` at ``step``.

    The final evaluation goes at the last training step: MLflow shows (and the champion comparison
    reads) the value at the highest step, which would otherwise be the last in-training evaluation,
    not the best checkpoint's.
    """
    y_true, y_pred = np.asarray(dataset["label"]), logits.argmax(-1)
    metrics = classification_metrics(y_true, y_pred)
    report = classification_report(metrics)
    print(f"\n[{split}] {len(y_true)} tweets\n{report}")
    if mlflow.active_run():
        mlflow.log_metrics({f"{split}_{k}": v for k, v in metrics.items()}, step=step)
        cm = confusion_matrix(y_true, y_pred)
        png = plot_confusion_matrix(cm, out_dir / f"confusion_{split}.png", split)
        mlflow.log_artifact(str(png), "evaluation")
        mlflow.log_text(report, f"evaluation/classification_report_{split}.txt")
    return metrics


def _decision_rule(model, val_logits: np.ndarray, dataset, out_dir: Path) -> np.ndarray:
    """Fit logit offsets on validation, fold them into the model; return the adjusted logits."""
    _log_split(val_logits, dataset, "val_raw", out_dir)
    offsets, _ = fit_logit_offsets(val_logits, np.asarray(dataset["label"]))
    fold_offsets_into_bias(model, offsets)
    mlflow.log_params({f"logit_offset.{label}": f"{o:.2f}" for label, o in zip(LABELS, offsets, strict=True)})
    fitted = ", ".join(f"{label} {o:+.2f}" for label, o in zip(LABELS, offsets, strict=True))
    print(f"[decision rule] logit offsets fitted on validation: {fitted}")
    return val_logits + offsets


def _fit(cfg: Config, model, tokenizer, datasets) -> tuple[Trainer, MlflowMetricsCallback]:
    encoded = _tokenize(datasets, tokenizer, cfg.model.max_length)
    callback = MlflowMetricsCallback()
    callbacks: list[TrainerCallback] = [callback]
    if cfg.train.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.train.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=_training_args(cfg),
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=callbacks,
    )
    trainer.train()
    return trainer, callback


def train(cfg: Config) -> TrainResult:
    """Config in; a trained, evaluated, logged and (maybe) champion model out."""
    started = time.perf_counter()
    set_seed(cfg.train.seed)
    datasets, report = load_splits(cfg.data, seed=cfg.train.seed)
    model, tokenizer = build_model(cfg.model)
    main = _is_main_process()
    if main:
        configure_mlflow(cfg.mlflow)
        mlflow.start_run(run_name=cfg.run_name)
    try:
        if main:
            _log_run_inputs(cfg, report)
        trainer, callback = _fit(cfg, model, tokenizer, datasets)
        if not trainer.is_world_process_zero():
            return TrainResult(None, None, None, {}, {}, None, callback.train_losses)
        return _finish(cfg, trainer, tokenizer, datasets, report, callback, started)
    finally:
        if main and mlflow.active_run():
            mlflow.end_run()


def _tag_version(cfg: Config, version_: str, val: dict, test: dict) -> None:
    """Lineage on the registered version, read later by the BentoML import."""
    client = mlflow.MlflowClient()
    tags = {
        "val_macro_recall": f"{val['macro_recall']:.6f}",
        "test_macro_recall": f"{test['macro_recall']:.6f}",
        "base_model": cfg.model.base,
        "labels": json.dumps(list(LABELS)),
    }
    for key, value in tags.items():
        client.set_model_version_tag(cfg.mlflow.registered_model, version_, key, value)


def _evaluate_validation(
    cfg: Config, model, tokenizer, validation, fit_offsets: bool, out_dir: Path, step: int = 0
):
    """Validation metrics, logged as ``val_*`` (after fitting the decision rule, if asked)."""
    logits = _predict(model, tokenizer, validation, cfg)
    if fit_offsets:
        logits = _decision_rule(model, logits, validation, out_dir)
    return _log_split(logits, validation, "val", out_dir, step)


def evaluate_and_register(
    cfg: Config,
    model,
    tokenizer,
    datasets,
    report: DataReport,
    fit_offsets: bool,
    provenance: str | None = None,
    step: int = 0,
):
    """In the active MLflow run: (decision rule,) validation and test metrics, log, register, alias.

    Validation selected the checkpoint (and fits the offsets); test is evaluated once, here.
    """
    with tempfile.TemporaryDirectory() as tmp:
        val = _evaluate_validation(
            cfg, model, tokenizer, datasets["validation"], fit_offsets, Path(tmp), step
        )
        test = _log_split(
            _predict(model, tokenizer, datasets["test"], cfg), datasets["test"], "test", Path(tmp), step
        )
    info = log_transformers_model(model, tokenizer, cfg.mlflow.registered_model)
    version_ = str(info.registered_model_version) if info.registered_model_version else None
    decision = None
    if version_:
        _tag_version(cfg, version_, val, test)
        card = render_model_card(cfg, report, val, test, fit_offsets, provenance)
        mlflow.MlflowClient().update_model_version(cfg.mlflow.registered_model, version_, description=card)
        mlflow.log_text(card, "MODEL_CARD.md")
        score = mlflow.get_run(mlflow.active_run().info.run_id).data.metrics[cfg.mlflow.selection_metric]
        decision = promote_if_better(cfg.mlflow, version_, score)
    return val, test, info, version_, decision


def evaluate_trial(cfg: Config, model, tokenizer, datasets, fit_offsets: bool, step: int = 0):
    """A hyper-parameter trial: validation metrics and the model, logged to the run; test untouched."""
    with tempfile.TemporaryDirectory() as tmp:
        val = _evaluate_validation(
            cfg, model, tokenizer, datasets["validation"], fit_offsets, Path(tmp), step
        )
    mlflow.set_tag("trial", "true")
    info = log_transformers_model(model, tokenizer, registered_model=None)
    return val, {}, info, None, None


def _finish(
    cfg: Config, trainer: Trainer, tokenizer, datasets, report: DataReport, callback, started: float
) -> TrainResult:
    model, step = trainer.model.eval(), trainer.state.global_step
    if cfg.train.evaluate_test:
        val, test, info, version_, decision = evaluate_and_register(
            cfg, model, tokenizer, datasets, report, cfg.train.fit_logit_offsets, step=step
        )
    else:
        val, test, info, version_, decision = evaluate_trial(
            cfg, model, tokenizer, datasets, cfg.train.fit_logit_offsets, step
        )
    trainer.save_model(str(Path(cfg.train.output_dir) / "final"))
    wall = time.perf_counter() - started
    mlflow.log_metric("wall_time_s", wall)
    run_id = mlflow.active_run().info.run_id
    return TrainResult(run_id, info.model_uri, version_, val, test, decision, callback.train_losses, wall)


def calibrate(cfg: Config, model_uri: str) -> TrainResult:
    """Fit the decision rule for an already trained model (e.g. a run made without it), as a new run."""
    from training.registry import load_components

    started = time.perf_counter()
    datasets, report = load_splits(cfg.data, seed=cfg.train.seed)
    configure_mlflow(cfg.mlflow)
    model, tokenizer = load_components(model_uri)
    with mlflow.start_run(run_name=f"{cfg.run_name or 'run'}-calibrated"):
        _log_run_inputs(cfg, report)
        mlflow.set_tag("calibrated_from", model_uri)
        val, test, info, version_, decision = evaluate_and_register(
            cfg, model, tokenizer, datasets, report, True
        )
        wall = time.perf_counter() - started
        mlflow.log_metric("wall_time_s", wall)
        run_id = mlflow.active_run().info.run_id
    return TrainResult(run_id, info.model_uri, version_, val, test, decision, [], wall)
