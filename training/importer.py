"""MLflow registry → BentoML model store: ``tweetmood import-model``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from training.config import MlflowConfig

log = logging.getLogger(__name__)

BENTO_MODEL_NAME = "tweet-mood"
# Inside the BentoML model: what bentoml.mlflow.import_model writes.
MLFLOW_SUBDIR = "mlflow_model"


class ImportError_(RuntimeError):
    """The registry holds nothing to import; the message says which command creates it."""


@dataclass
class ImportResult:
    tag: str
    mlflow_version: str
    reused: bool


def _resolve_version(cfg: MlflowConfig, model_uri: str):
    """The registered ModelVersion behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not model_uri.startswith("models:/"):
        raise ImportError_(f"{model_uri}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    ref = model_uri.removeprefix("models:/")
    client = MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        name, _, version = ref.partition("/")
        return client.get_model_version(name, version)
    except MlflowException as err:
        raise ImportError_(
            f"{model_uri} is not in the MLflow registry at {cfg.tracking_uri} ({err.error_code}). "
            "Train and register one first: tweetmood train --config configs/quick.yaml"
        ) from None


def _lineage(mv) -> tuple[dict[str, str], dict]:
    from mlflow.tracking import MlflowClient

    run = MlflowClient().get_run(mv.run_id)
    tags = mv.tags or {}
    labels = {
        "registered_model": mv.name,
        "mlflow_version": str(mv.version),
        "mlflow_run_id": mv.run_id,
        "base_model": tags.get("base_model", run.data.params.get("model.base", "unknown")),
    }
    metadata = {
        "labels": json.loads(tags.get("labels", "[]")),
        "val_macro_recall": float(
            tags.get("val_macro_recall", run.data.metrics.get("val_macro_recall", "nan"))
        ),
        "test_macro_recall": float(
            tags.get("test_macro_recall", run.data.metrics.get("test_macro_recall", "nan"))
        ),
        "max_length": int(run.data.params.get("model.max_length", 128)),
        "train_data_sha256": run.data.tags.get("data.train.sha256", ""),
        "git_commit": run.data.tags.get("git_commit", ""),
        "mlflow_model_uri": f"models:/{mv.name}/{mv.version}",
        "mlflow_source": mv.source,
    }
    return labels, metadata


def find_imported(registered_model: str, version: str):
    """An existing BentoML model imported from this registered version, if any."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        candidates = bentoml.models.list(BENTO_MODEL_NAME)
    except NotFound:
        return None
    for model in candidates:
        labels = model.info.labels
        if labels.get("registered_model") == registered_model and labels.get("mlflow_version") == str(
            version
        ):
            return model
    return None


def import_model(cfg: MlflowConfig, model_uri: str | None = None, force: bool = False) -> ImportResult:
    """Import the registered model into the BentoML store as ``tweet-mood`` (reusing an earlier import)."""
    import bentoml
    import mlflow

    mlflow.set_tracking_uri(cfg.tracking_uri)
    model_uri = model_uri or f"models:/{cfg.registered_model}@{cfg.alias}"
    mv = _resolve_version(cfg, model_uri)
    existing = None if force else find_imported(mv.name, mv.version)
    if existing is not None:
        print(
            f"[import] {model_uri} = {mv.name} v{mv.version}: already imported as {existing.tag}, reusing it"
        )
        return ImportResult(str(existing.tag), str(mv.version), reused=True)
    labels, metadata = _lineage(mv)
    # Pin the exact version (not the alias), so the BentoML model is what the labels say.
    bento_model = bentoml.mlflow.import_model(
        BENTO_MODEL_NAME, f"models:/{mv.name}/{mv.version}", labels=labels, metadata=metadata
    )
    print(f"[import] {model_uri} = {mv.name} v{mv.version} → BentoML model {bento_model.tag}")
    return ImportResult(str(bento_model.tag), str(mv.version), reused=False)
