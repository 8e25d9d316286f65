import numpy as np
import torch
from transformers import DistilBertConfig, DistilBertForSequenceClassification

from training.calibrate import fit_logit_offsets, fold_offsets_into_bias
from training.metrics import classification_metrics


def test_offsets_recover_a_shifted_minority_class():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    logits = np.eye(3)[labels] * 2.0 + rng.normal(0, 0.8, (600, 3))
    logits[:, 0] -= 1.2  # the model under-predicts "negative"
    before = classification_metrics(labels, logits.argmax(-1))["macro_recall"]
    offsets, after = fit_logit_offsets(logits, labels)
    assert offsets[1] == 0.0  # neutral is the reference
    assert offsets[0] > 0.5  # pushes negative back up
    assert after > before + 0.05
    assert after == classification_metrics(labels, (logits + offsets).argmax(-1))["macro_recall"]


def test_no_change_when_nothing_to_gain():
    labels = np.array([0, 1, 2] * 10)
    offsets, score = fit_logit_offsets(np.eye(3)[labels] * 5.0, labels)
    assert score == 1.0 and not offsets.any()


def test_fold_into_bias_shifts_logits_exactly():
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    ).eval()
    ids = torch.tensor([[1, 5, 7, 2]])
    before = model(input_ids=ids).logits
    fold_offsets_into_bias(model, np.array([0.5, 0.0, -0.25]))
    after = model(input_ids=ids).logits
    torch.testing.assert_close(after - before, torch.tensor([[0.5, 0.0, -0.25]]))
