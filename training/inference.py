"""Batched inference with length-sorted dynamic padding, shared by evaluation and serving."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def model_device(model: PreTrainedModel) -> torch.device:
    return next(model.parameters()).device


# Pad each batch to a multiple of this many tokens. Every new (batch, length) shape makes the CPU
# kernels cache work buffers: with exact lengths the server's RSS grew 1,017 MB in a 10-minute soak, and
# in-process 1,200 random batches grew 971 → 1,480 MB (still rising); bucketed, 805 → 895 MB, then flat.
PAD_TO_MULTIPLE_OF = 16


def length_sorted_batches(
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    batch_size: int = 64,
    max_length: int | None = None,
    return_tensors: str = "pt",
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, dict]]:
    """``(indices, {"input_ids", "attention_mask"})`` batches of texts sorted by token length.

    Sorting by length makes each batch pad only to its own longest text, which on CPU is most of
    the speed-up batching can give. ``indices`` say where each row goes in input order.
    """
    max_length = max_length or tokenizer.model_max_length
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    for start in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="predict", unit="batch"):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad(
            {"input_ids": [ids[i] for i in idx]},
            return_tensors=return_tensors,
            pad_to_multiple_of=PAD_TO_MULTIPLE_OF,
        )
        yield idx, {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}


@torch.inference_mode()
def predict_logits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    batch_size: int = 64,
    max_length: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Logits in input order. Texts are already normalised; batches are length-sorted."""
    if not texts:
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    device = model_device(model)
    out = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
    for idx, batch in length_sorted_batches(tokenizer, texts, batch_size, max_length, "pt", progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        out[idx] = model(**batch).logits.float().cpu().numpy()
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
