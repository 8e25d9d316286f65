import numpy as np
import torch
from transformers import DistilBertConfig, DistilBertForSequenceClassification

from training.calibrate import fit_logit_offsets
from training.selection import average_weights, crossfit_offsets, soup_model, stratified_folds


def _tiny(seed: int):
    torch.manual_seed(seed)
    return DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    ).eval()


def test_average_weights_is_the_elementwise_mean():
    a, b = _tiny(0), _tiny(1)
    averaged = average_weights([a, b])
    key = "classifier.weight"
    torch.testing.assert_close(averaged[key], (a.state_dict()[key] + b.state_dict()[key]) / 2)
    assert set(averaged) == set(a.state_dict())


def test_soup_of_one_model_is_that_model_and_leaves_the_inputs_untouched():
    a, b = _tiny(0), _tiny(1)
    before = a.classifier.weight.clone()
    soup = soup_model([a, b], [0, 1])
    ids = torch.tensor([[1, 5, 7, 2]])
    torch.testing.assert_close(soup_model([a, b], [0])(input_ids=ids).logits, a(input_ids=ids).logits)
    torch.testing.assert_close(a.classifier.weight, before)
    assert not torch.equal(soup.classifier.weight, a.classifier.weight)


def test_stratified_folds_spread_each_class_evenly():
    labels = np.array([0] * 10 + [1] * 23 + [2] * 7)
    folds = stratified_folds(labels, k=5, seed=0)
    for cls in range(3):
        counts = np.bincount(folds[labels == cls], minlength=5)
        assert counts.max() - counts.min() <= 1


def test_crossfit_finds_a_real_shift_out_of_sample():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 900)
    logits = np.eye(3)[labels] * 2.0 + rng.normal(0, 0.8, (900, 3))
    logits[:, 0] -= 1.2  # a systematic under-prediction of "negative": offsets generalise
    oof, raw = crossfit_offsets(logits, labels, k=5, seed=0)
    assert oof > raw + 0.03


def test_crossfit_does_not_reward_fitting_noise():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 600)
    logits = rng.normal(0, 1, (600, 3))  # no signal at all: in-sample offsets would only fit noise
    oof, raw = crossfit_offsets(logits, labels, k=5, seed=0)
    _, in_sample = fit_logit_offsets(logits, labels)
    assert in_sample > raw + 0.02  # fitted and scored on the same data, the rule looks like a gain...
    assert oof <= raw  # ...which cross-fitting shows is not there
