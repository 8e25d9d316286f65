"""Optional ONNX Runtime serving: the classifier exported to ONNX with int8 dynamic quantisation.

    pip install -e ".[onnx]"                    # onnxruntime + onnx
    tweetmood import-model --onnx-int8          # stores onnx/model.int8.onnx in the BentoML model
    TWEETMOOD_RUNTIME=onnx-int8 bentoml serve service:TweetMood

Export: torch's TorchScript-based exporter (``dynamo=False``: no onnxscript needed), dynamic batch and
sequence axes, inputs ``input_ids`` / ``attention_mask``, output ``logits``. Quantisation: ONNX
Runtime's ``quantize_dynamic`` with signed int8 weights, one scale per output channel (per-tensor
scales flipped twice as many test-set predictions on our model). Activations are quantised on the
fly, so it runs on the CPU only. ``load_tests/onnx_compare.py`` measures accuracy and speed.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from training.inference import length_sorted_batches, softmax
from training.labels import LABELS
from training.serving import DevicePolicy, device_policy, model_files

log = logging.getLogger(__name__)

ONNX_SUBDIR = "onnx"  # inside the BentoML model
INT8_FILE = "model.int8.onnx"
FP32_FILE = "model.fp32.onnx"
INPUT_NAMES = ("input_ids", "attention_mask")
OPSET = 17


class OnnxModelMissing(FileNotFoundError):
    """The model folder has no ONNX file; the message says how to produce one."""


def _load_torch_model(model_dir_or_model):
    if isinstance(model_dir_or_model, torch.nn.Module):
        return model_dir_or_model
    from transformers import AutoModelForSequenceClassification

    weights, _ = model_files(Path(model_dir_or_model))
    return AutoModelForSequenceClassification.from_pretrained(weights, dtype=torch.float32)


def _load_tokenizer(tokenizer):
    if isinstance(tokenizer, str | Path):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_files(Path(tokenizer))[1])
    return tokenizer


def export_onnx(model_dir_or_model, tokenizer, out_dir: str | Path, quantize: bool = True) -> Path:
    """Export the classifier to ``out_dir/model.fp32.onnx``, or (``quantize``) ``out_dir/model.int8.onnx``.

    ``model_dir_or_model``: a loaded model, an HF folder or a BentoML model folder; ``tokenizer``:
    a tokenizer or a folder (a given model is put in eval mode, fp32, on the CPU). Returns the path
    written. The labels are stored in the ONNX metadata.
    """
    model = _load_torch_model(model_dir_or_model)
    model = model.float().cpu().eval()
    tokenizer = _load_tokenizer(tokenizer)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Two texts of different lengths: the traced graph must take the padded-attention-mask path.
    sample = tokenizer(
        ["short", "a somewhat longer sample text for tracing"], padding=True, return_tensors="pt"
    )
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = (Path(tmp) if quantize else out_dir) / FP32_FILE
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of dynamo (which needs onnxscript),
            # and transformers' shape checks raise TracerWarnings that do not apply here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (sample["input_ids"], sample["attention_mask"]),
                str(fp32),
                dynamo=False,
                input_names=list(INPUT_NAMES),
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch"},
                },
                opset_version=OPSET,
            )
        if not quantize:
            _write_labels(fp32, labels)
            return fp32
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = out_dir / INT8_FILE
        # quantize_dynamic logs a root-logger warning suggesting quant_pre_process (shape inference and
        # graph optimisation); ONNX Runtime optimises the graph when it loads it, so it is not needed.
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.ERROR))
        try:
            quantize_dynamic(
                str(fp32),
                str(int8),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
    _write_labels(int8, labels)
    log.info("exported %s (%.1f MB)", INT8_FILE, int8.stat().st_size / 1e6)
    return int8


def _write_labels(path: Path, labels: list[str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"labels": json.dumps(labels)})
    onnx.save(proto, str(path))


class OnnxMoodModel:
    """Same interface as :class:`training.serving.MoodModel`, on ONNX Runtime (CPU)."""

    def __init__(
        self,
        model_dir: str | Path,
        policy: DevicePolicy | None = None,
        batch_size: int = 64,
        onnx_file: str | Path | None = None,
    ):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise RuntimeError(
                'runtime onnx-int8 needs onnxruntime: pip install -e ".[onnx]" (see pyproject.toml)'
            ) from err
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        path = Path(onnx_file) if onnx_file else model_dir / ONNX_SUBDIR / INT8_FILE
        if not path.is_file():
            raise OnnxModelMissing(
                f"{model_dir} has no {ONNX_SUBDIR}/{INT8_FILE}: re-import the model with "
                "`tweetmood import-model --onnx-int8` (or serve with TWEETMOOD_RUNTIME=pytorch)"
            )
        self.policy = policy or device_policy("cpu")
        if self.policy.device != "cpu":
            raise ValueError("runtime onnx-int8 runs on the CPU only: set TWEETMOOD_DEVICE=cpu")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.policy.threads or 0  # 0: ONNX Runtime's default
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        labels = json.loads(self.session.get_modelmeta().custom_metadata_map.get("labels", "null"))
        if labels is not None and tuple(labels) != LABELS:
            raise ValueError(f"{path}: model labels {labels} differ from {list(LABELS)}")
        self.tokenizer = AutoTokenizer.from_pretrained(model_files(model_dir)[1])
        self.batch_size = batch_size
        log.info("loaded %s on ONNX Runtime (cpu, %s threads)", path, self.policy.threads)

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), len(LABELS)), dtype=np.float32)
        if not texts:
            return out
        for idx, batch in length_sorted_batches(self.tokenizer, texts, self.batch_size, return_tensors="np"):
            feeds = {name: batch[name].astype(np.int64) for name in INPUT_NAMES}
            out[idx] = self.session.run(["logits"], feeds)[0]
        return out

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities (n, 3) in LABELS order, for already-normalised texts."""
        return softmax(self.predict_logits(texts))
