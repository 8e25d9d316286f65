"""Serving core shared by service.py, ``tweetmood analyze --local`` and the benchmarks:
load the imported model natively, pick the device, predict probabilities."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.importer import MLFLOW_SUBDIR
from training.inference import predict_logits, softmax
from training.labels import LABELS

if TYPE_CHECKING:
    from training.onnx_runtime import OnnxMoodModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevicePolicy:
    device: str  # "cpu" or "cuda"
    dtype: torch.dtype
    threads: int | None  # torch CPU threads for this worker (None: leave as is)


def device_policy(requested: str = "auto", workers: int = 1, threads: int | None = None) -> DevicePolicy:
    """CUDA (half precision) when asked for or available; else CPU with threads shared among workers."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device=cuda was asked for but no CUDA device is visible")
        return DevicePolicy("cuda", torch.float16, None)
    # Without a cap every worker would start one thread per core and they would oversubscribe.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return DevicePolicy("cpu", torch.float32, threads or max(1, cores // max(1, workers)))


def model_files(model_dir: Path) -> tuple[Path, Path]:
    """(weights folder, tokenizer folder) of a BentoML model imported from MLflow, or of an HF folder."""
    if (model_dir / MLFLOW_SUBDIR).is_dir():
        return model_dir / MLFLOW_SUBDIR / "model", model_dir / MLFLOW_SUBDIR / "components" / "tokenizer"
    return model_dir, model_dir


class MoodModel:
    """The fine-tuned classifier, loaded from a BentoML model folder (or any HF model folder)."""

    def __init__(self, model_dir: str | Path, policy: DevicePolicy | None = None, batch_size: int = 64):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        weights, tok_dir = model_files(model_dir)
        self.policy = policy or device_policy()
        if self.policy.threads:
            torch.set_num_threads(self.policy.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        model = AutoModelForSequenceClassification.from_pretrained(weights, dtype=self.policy.dtype)
        self.model = model.to(self.policy.device).eval()
        labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        if tuple(labels) != LABELS:  # the model carries its own labels; they must be ours
            raise ValueError(f"{model_dir}: model labels {labels} differ from {list(LABELS)}")
        self.batch_size = batch_size
        log.info(
            "loaded %s on %s (%s, %s threads)",
            model_dir,
            self.policy.device,
            self.policy.dtype,
            self.policy.threads,
        )

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities (n, 3) in LABELS order, for already-normalised texts."""
        return softmax(predict_logits(self.model, self.tokenizer, texts, self.batch_size))


Runtime = Literal["pytorch", "onnx-int8"]


def load_mood_model(
    model_dir: str | Path, policy: DevicePolicy | None = None, settings: ServingSettings | None = None
) -> MoodModel | OnnxMoodModel:
    """The model for ``settings.runtime``: :class:`MoodModel` (PyTorch) or ``OnnxMoodModel`` (ONNX int8)."""
    settings = settings or ServingSettings()
    policy = policy or device_policy(settings.device, settings.model_workers, settings.torch_threads or None)
    if settings.runtime == "onnx-int8":
        if policy.device == "cuda" and settings.device == "auto":  # int8 ONNX runs on the CPU
            policy = device_policy("cpu", settings.model_workers, settings.torch_threads or None)
        from training.onnx_runtime import OnnxMoodModel  # onnxruntime is an optional dependency

        return OnnxMoodModel(model_dir, policy, batch_size=settings.effective_batch_size)
    return MoodModel(model_dir, policy, batch_size=settings.effective_batch_size)


def to_prediction(probs) -> dict:
    """One row of probabilities → ``{"label": ..., "scores": {...}}`` (label = arg-max)."""
    scores = {label: float(p) for label, p in zip(LABELS, probs, strict=True)}
    return {"label": max(scores, key=scores.get), "scores": scores}


class ServingSettings(BaseModel):
    """Serving knobs, from ``TWEETMOOD_*`` environment variables (read when service.py is imported)."""

    model_config = ConfigDict(extra="forbid")
    model_tag: str = Field("tweet-mood:latest", description="BentoML model to serve.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    runtime: Runtime = Field(
        "pytorch",
        description="'onnx-int8': ONNX Runtime with int8 weights (CPU; needs an import with --onnx-int8).",
    )
    model_workers: int = Field(1, ge=1, description="Model service processes.")
    api_workers: int = Field(1, ge=1, description="API service processes.")
    torch_threads: int = Field(
        0, ge=0, description="Torch CPU threads per model worker (0: cores / workers)."
    )
    batching: bool = Field(True, description="Adaptive batching on (off: max_batch_size 1).")
    max_batch_size: int = Field(64, ge=1, le=1024)
    max_latency_ms: int = Field(10_000, ge=10, description="Dispatcher latency budget per request.")
    timeout_s: int = Field(300, ge=1, description="Request timeout of both services.")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)

    @classmethod
    def from_env(cls, environ=None) -> ServingSettings:
        environ = os.environ if environ is None else environ
        prefix = "TWEETMOOD_"
        values = {
            name: environ[prefix + name.upper()]
            for name in cls.model_fields
            if prefix + name.upper() in environ
        }
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            problems = "; ".join(
                f"{prefix}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors()
            )
            raise ValueError(f"invalid serving settings: {problems}") from None

    @property
    def effective_batch_size(self) -> int:
        return self.max_batch_size if self.batching else 1
