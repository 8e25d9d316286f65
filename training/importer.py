"""MLflow registry → BentoML model store: ``tweetmood import-model``."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from training.config import MlflowConfig

log = logging.getLogger(__name__)

BENTO_MODEL_NAME = "tweet-mood"
# Inside the BentoML model: the layout bentoml.mlflow.import_model writes (and bentoml.mlflow loads).
MLFLOW_SUBDIR = "mlflow_model"
# ... plus, with --onnx-int8, the ONNX Runtime variant (see training/onnx_runtime.py).
ONNX_INT8_PATH = "onnx/model.int8.onnx"


class ModelImportError(RuntimeError):
    """The registry holds nothing to import; the message says which command creates it."""


@dataclass
class ImportResult:
    tag: str
    mlflow_version: str
    reused: bool
    onnx_int8: bool = False


def _resolve_version(cfg: MlflowConfig, model_uri: str):
    """The registered ModelVersion behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not model_uri.startswith("models:/"):
        raise ModelImportError(f"{model_uri}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    ref = model_uri.removeprefix("models:/")
    client = MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        name, _, version = ref.partition("/")
        return client.get_model_version(name, version)
    except MlflowException as err:
        raise ModelImportError(
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
        "model_card": mv.description or "",
    }
    return labels, metadata


def has_onnx_int8(model) -> bool:
    return (Path(model.path) / ONNX_INT8_PATH).is_file()


def find_imported(registered_model: str, version: str, need_onnx_int8: bool = False):
    """An existing BentoML model imported from this registered version (with the ONNX variant), if any."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        candidates = bentoml.models.list(BENTO_MODEL_NAME)
    except NotFound:
        return None
    for model in candidates:
        labels = model.info.labels
        if (
            labels.get("registered_model") == registered_model
            and labels.get("mlflow_version") == str(version)
            and (has_onnx_int8(model) or not need_onnx_int8)
        ):
            return model
    return None


def _create_bento_model(mlflow_uri: str, labels: dict, metadata: dict, onnx_int8: bool):
    """What ``bentoml.mlflow.import_model`` does (same layout and module, so ``bentoml.mlflow.load_model``
    still works), plus the ONNX int8 file written before the model is saved: models are immutable."""
    import bentoml
    import mlflow
    from mlflow.artifacts import download_artifacts

    context = bentoml.models.ModelContext(
        framework_name="mlflow", framework_versions={"mlflow": mlflow.__version__}
    )
    with bentoml.models.create(
        BENTO_MODEL_NAME,
        module="bentoml.mlflow",
        signatures={"predict": {"batchable": False}},
        labels=labels,
        metadata=metadata,
        context=context,
    ) as bento_model:
        tmp = tempfile.mkdtemp(prefix="tweetmood-import-")
        try:
            local = download_artifacts(artifact_uri=mlflow_uri, dst_path=tmp)
            shutil.move(local, bento_model.path_of(MLFLOW_SUBDIR))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not Path(bento_model.path_of(MLFLOW_SUBDIR), "MLmodel").is_file():
            raise ModelImportError(f"{mlflow_uri} is not an MLflow model (no MLmodel file)")
        if onnx_int8:
            from training.onnx_runtime import export_onnx

            path = Path(bento_model.path)
            export_onnx(path, path, path / Path(ONNX_INT8_PATH).parent, quantize=True)
    return bentoml.models.get(bento_model.tag)


def import_model(
    cfg: MlflowConfig, model_uri: str | None = None, force: bool = False, onnx_int8: bool = False
) -> ImportResult:
    """Import the registered model into the BentoML store as ``tweet-mood`` (reusing an earlier import).

    ``onnx_int8``: also store ``onnx/model.int8.onnx`` (serve it with TWEETMOOD_RUNTIME=onnx-int8); an
    earlier import of the same version without it is not reused but imported again, with it.
    """
    import mlflow

    mlflow.set_tracking_uri(cfg.tracking_uri)
    model_uri = model_uri or f"models:/{cfg.registered_model}@{cfg.alias}"
    mv = _resolve_version(cfg, model_uri)
    existing = None if force else find_imported(mv.name, mv.version, need_onnx_int8=onnx_int8)
    if existing is not None:
        print(
            f"[import] {model_uri} = {mv.name} v{mv.version}: already imported as {existing.tag}, reusing it"
        )
        return ImportResult(
            str(existing.tag), str(mv.version), reused=True, onnx_int8=has_onnx_int8(existing)
        )
    if onnx_int8 and not force and (plain := find_imported(mv.name, mv.version)) is not None:
        print(
            f"[import] {mv.name} v{mv.version} was imported as {plain.tag} without the ONNX int8 variant; "
            "importing it again with it"
        )
    labels, metadata = _lineage(mv)
    metadata["runtime_variants"] = ["pytorch", "onnx-int8"] if onnx_int8 else ["pytorch"]
    # Pin the exact version (not the alias), so the BentoML model is what the labels say.
    bento_model = _create_bento_model(f"models:/{mv.name}/{mv.version}", labels, metadata, onnx_int8)
    print(f"[import] {model_uri} = {mv.name} v{mv.version} → BentoML model {bento_model.tag}")
    return ImportResult(str(bento_model.tag), str(mv.version), reused=False, onnx_int8=onnx_int8)
