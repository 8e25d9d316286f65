"""MLflow: tracking setup, model logging, registration and the champion alias decision."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.config import MlflowConfig

log = logging.getLogger(__name__)

INPUT_EXAMPLE = [
    "I love this so much!",
    "The train is late again, worst service ever.",
    "Meeting moved to 3pm.",
]
# Explicit requirements: MLflow's inference adds torchvision for every torch model (not needed here).
SERVING_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "mlflow")


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name).split('+')[0]}" for name in SERVING_PACKAGES]


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def configure_mlflow(cfg: MlflowConfig) -> str:
    """Point MLflow at the tracking store and make sure the experiment exists; return its id."""
    mlflow.set_tracking_uri(cfg.tracking_uri)
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        # A local store keeps artifacts in a known folder; a tracking server decides for itself.
        location = Path(cfg.artifact_root).resolve().as_uri() if _is_local_store(cfg.tracking_uri) else None
        experiment_id = mlflow.create_experiment(cfg.experiment, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def log_transformers_model(model, tokenizer, registered_model: str | None):
    """Log the model with the MLflow transformers flavor (and register it); returns ModelInfo."""
    return mlflow.transformers.log_model(
        transformers_model={"model": model, "tokenizer": tokenizer},
        name="model",
        task="text-classification",
        input_example=INPUT_EXAMPLE,
        pip_requirements=pip_requirements(),
        registered_model_name=registered_model,
    )


@dataclass
class AliasDecision:
    promoted: bool
    version: str
    reason: str
    previous_version: str | None = None


def _champion_score(
    client: MlflowClient, name: str, alias: str, metric: str
) -> tuple[str | None, float | None]:
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    run_metrics = client.get_run(current.run_id).data.metrics if current.run_id else {}
    return current.version, run_metrics.get(metric)


def promote_if_better(cfg: MlflowConfig, version_: str, score: float) -> AliasDecision:
    """Move the alias to ``version_`` only if its score beats the current holder's (or there is none)."""
    client = MlflowClient()
    name, alias, metric = cfg.registered_model, cfg.alias, cfg.selection_metric
    old_version, old_score = _champion_score(client, name, alias, metric)
    if old_version is None:
        promoted, reason = True, f"no '{alias}' yet"
    elif old_score is None:
        promoted, reason = True, f"current {alias} v{old_version} has no {metric}"
    elif score > old_score:
        promoted, reason = True, f"{metric} {score:.4f} > {old_score:.4f} of v{old_version}"
    else:
        promoted, reason = False, f"{metric} {score:.4f} does not beat {old_score:.4f} of v{old_version}"
    if promoted:
        client.set_registered_model_alias(name, alias, version_)
    decision = AliasDecision(promoted, version_, reason, old_version)
    verdict = f"promoted {name} v{version_} to @{alias}" if promoted else f"kept @{alias} on v{old_version}"
    print(f"[registry] {verdict}: {reason}")
    return decision


def load_components(model_uri: str):
    """The native (model, tokenizer) of a logged transformers model — not the slow pyfunc."""
    components = mlflow.transformers.load_model(model_uri, return_type="components")
    model = components["model"].eval()
    return model, components["tokenizer"]
