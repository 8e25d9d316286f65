"""The offline base (MiniLM-L6-H384, a BERT) converted into DistilBERT computes the same function."""

import shutil

import pytest
import torch
from transformers import BertModel

from training import modeling
from training.config import ModelConfig
from training.modeling import SupplyChainError, build_model, offline_base_dir

SENTENCES = [
    "I love this so much, best day ever!",
    "@user the train was late again, terrible service http",
    "Parliament votes on the budget bill tomorrow.",
    "ugh... mondays 😩 #whyme",
]


@pytest.fixture(scope="module")
def converted():
    model, tokenizer = build_model(ModelConfig())
    return model.eval(), tokenizer


def test_architecture(converted):
    model, tokenizer = converted
    c = model.config
    assert (c.dim, c.n_layers, c.n_heads, c.hidden_dim, c.activation) == (384, 6, 12, 1536, "gelu")
    assert c.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert c.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    assert "token_type_ids" not in tokenizer("hello")


def test_hidden_states_match_source_bert(converted):
    model, tokenizer = converted
    bert = BertModel.from_pretrained(str(offline_base_dir()), add_pooling_layer=False).eval()
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = model.distilbert(**enc, output_hidden_states=True).hidden_states
        theirs = bert(**enc, token_type_ids=torch.zeros_like(enc["input_ids"]), output_hidden_states=True)
    mask = enc["attention_mask"].bool()
    assert len(ours) == len(theirs.hidden_states) == 7  # embeddings + 6 layers
    for layer, (a, b) in enumerate(zip(ours, theirs.hidden_states, strict=True)):
        diff = (a - b)[mask].abs().max().item()
        assert diff < 1e-4, f"layer {layer}: max |diff| {diff:.2e}"


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    src = offline_base_dir()
    fake = tmp_path / "model"
    shutil.copytree(src, fake)
    with open(fake / "model.safetensors", "r+b") as fh:  # flip one byte
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(modeling, "offline_base_dir", lambda: fake)
    with pytest.raises(SupplyChainError, match="does not match the known"):
        build_model(ModelConfig())
