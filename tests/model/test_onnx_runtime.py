"""The optional ONNX Runtime variant: export of the tiny random model, int8 quantisation, the factory."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason='optional: pip install -e ".[onnx]"')

from tests.conftest import TINY_CONFIG  # noqa: E402
from training.config import load_config  # noqa: E402
from training.inference import predict_logits, softmax  # noqa: E402
from training.modeling import build_model  # noqa: E402
from training.onnx_runtime import (  # noqa: E402
    INT8_FILE,
    ONNX_SUBDIR,
    OnnxModelMissing,
    OnnxMoodModel,
    export_onnx,
)
from training.serving import ServingSettings, device_policy, load_mood_model  # noqa: E402

TEXTS = [
    "i love this so much",
    "worst day ever, the train was late again",
    "the meeting is at noon",
    "ok",
    "a much longer tweet about nothing in particular that goes on and on and on for a while",
    "great game tonight!!",
    "not sure what to think about the new policy",
    "ugh mondays",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model, tokenizer = build_model(load_config(TINY_CONFIG).model)
    model.eval()
    folder = tmp_path_factory.mktemp("onnx") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    fp32 = export_onnx(model, tokenizer, folder / "fp32", quantize=False)
    int8 = export_onnx(folder, folder, folder / ONNX_SUBDIR, quantize=True)
    return model, tokenizer, folder, fp32, int8


def test_fp32_onnx_matches_torch(exported):
    model, tokenizer, folder, fp32, _ = exported
    onnx_fp32 = OnnxMoodModel(folder, device_policy("cpu", threads=1), batch_size=3, onnx_file=fp32)
    expected = predict_logits(model, tokenizer, TEXTS, batch_size=3)
    np.testing.assert_allclose(onnx_fp32.predict_logits(TEXTS), expected, atol=1e-4)
    # Dynamic axes: one text (no padding) and a batch of all texts (padding) both work.
    np.testing.assert_allclose(onnx_fp32.predict_logits(TEXTS[:1]), expected[:1], atol=1e-4)


def test_int8_is_smaller_and_agrees(exported):
    model, tokenizer, folder, fp32, int8 = exported
    assert int8 == folder / ONNX_SUBDIR / INT8_FILE and int8.stat().st_size < fp32.stat().st_size
    onnx_int8 = OnnxMoodModel(folder, device_policy("cpu", threads=1), batch_size=4)
    probs = onnx_int8.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    torch_probs = softmax(predict_logits(model, tokenizer, TEXTS))
    agreement = (probs.argmax(axis=1) == torch_probs.argmax(axis=1)).mean()
    assert agreement >= 0.75, f"int8 agrees with fp32 on {agreement:.0%} of the texts"
    assert onnx_int8.predict_proba([]).shape == (0, 3)


def test_factory_picks_the_runtime(exported):
    _, _, folder, _, _ = exported
    policy = device_policy("cpu", threads=1)
    model = load_mood_model(folder, policy, ServingSettings(runtime="onnx-int8"))
    assert isinstance(model, OnnxMoodModel)
    assert ServingSettings.from_env({"TWEETMOOD_RUNTIME": "onnx-int8"}).runtime == "onnx-int8"
    with pytest.raises(ValueError, match="TWEETMOOD_RUNTIME"):
        ServingSettings.from_env({"TWEETMOOD_RUNTIME": "tensorrt"})


def test_missing_onnx_file_says_how_to_make_it(exported, tmp_path):
    _, tokenizer, _, _, _ = exported
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(OnnxModelMissing, match="tweetmood import-model --onnx-int8"):
        load_mood_model(tmp_path, device_policy("cpu", threads=1), ServingSettings(runtime="onnx-int8"))
