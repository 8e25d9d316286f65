"""Train the tiny model end to end on the committed fixture, with MLflow in a temp directory."""

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from tests.conftest import TINY_CONFIG, tiny_overrides
from training.config import load_config
from training.inference import predict_logits
from training.registry import load_components
from training.train import train


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    first = train(load_config(TINY_CONFIG, tiny_overrides(tmp)))
    # A second run that barely trains: one optimiser step at a tiny learning rate.
    weak = tiny_overrides(tmp) + [
        "train.max_steps=1",
        "train.learning_rate=1e-7",
        f"train.output_dir={tmp}/out2",
    ]
    second = train(load_config(TINY_CONFIG, weak))
    return tmp, first, second


def test_loss_decreases(two_runs):
    _, first, _ = two_runs
    assert len(first.train_losses) >= 3
    assert first.train_losses[-1] < first.train_losses[0]


def test_run_is_tracked(two_runs):
    tmp, first, _ = two_runs
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    run = MlflowClient().get_run(first.run_id)
    assert run.data.params["train.learning_rate"] == "0.003"
    assert run.data.params["model.base"] == "random-tiny"
    for key in ("val_macro_recall", "test_macro_recall", "test_macro_f1", "loss", "data.train.rows_kept"):
        assert key in run.data.metrics, key
    assert run.data.metrics["data.train.rows_kept"] == 36
    assert len(run.data.tags["data.train.sha256"]) == 64
    artifacts = {a.path for a in MlflowClient().list_artifacts(first.run_id, "evaluation")}
    assert {"evaluation/confusion_test.png", "evaluation/classification_report_test.txt"} <= artifacts
    assert {a.path for a in MlflowClient().list_artifacts(first.run_id, "config")} == {"config/resolved.yaml"}


def test_run_shows_the_final_evaluation_not_the_last_in_training_one(two_runs):
    tmp, first, _ = two_runs
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    client = MlflowClient()
    history = client.get_metric_history(first.run_id, "val_macro_recall")
    assert len(history) >= 2, "the tiny config evaluates during training too"
    final = max(history, key=lambda m: m.timestamp)
    assert final.step == max(m.step for m in history) > 0
    assert final.value == pytest.approx(first.val_metrics["macro_recall"])
    metrics = client.get_run(first.run_id).data.metrics
    assert metrics["val_macro_recall"] == pytest.approx(first.val_metrics["macro_recall"])
    assert metrics["test_macro_recall"] == pytest.approx(first.test_metrics["macro_recall"])


def test_registered_and_alias_decision(two_runs):
    tmp, first, second = two_runs
    assert (first.registered_version, second.registered_version) == ("1", "2")
    assert first.alias.promoted and first.alias.reason == "no 'champion' yet"
    v1, v2 = first.val_metrics["macro_recall"], second.val_metrics["macro_recall"]
    assert v1 > v2, "the fixture should make the weak run worse"
    assert not second.alias.promoted
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    champion = MlflowClient().get_model_version_by_alias("tweet-mood", "champion")
    assert str(champion.version) == "1"
    assert champion.tags["val_macro_recall"] == f"{v1:.6f}"


def test_champion_predicts_like_the_trained_model(two_runs, fixture_data_dir):
    tmp, first, _ = two_runs
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    texts = [line.split(",")[0] for line in (fixture_data_dir / "test.csv").read_text().splitlines()[1:]]
    local = AutoModelForSequenceClassification.from_pretrained(tmp / "out" / "final").eval()
    local_tok = AutoTokenizer.from_pretrained(tmp / "out" / "final")
    model, tokenizer = load_components("models:/tweet-mood@champion")
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    expected = predict_logits(local, local_tok, texts, max_length=32)
    actual = predict_logits(model, tokenizer, texts, max_length=32)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert (actual.argmax(-1) == expected.argmax(-1)).all()


def test_decision_rule_is_fitted_on_validation_and_saved_in_the_model(two_runs):
    tmp, _, _ = two_runs
    overrides = tiny_overrides(tmp) + ["train.fit_logit_offsets=true", f"train.output_dir={tmp}/out3"]
    result = train(load_config(TINY_CONFIG, overrides))
    run = MlflowClient().get_run(result.run_id)
    assert run.data.metrics["val_macro_recall"] >= run.data.metrics["val_raw_macro_recall"]
    assert run.data.params["logit_offset.neutral"] == "0.00"
    # The offsets live in the saved classifier bias: the registered model reproduces the adjusted logits.
    model, tokenizer = load_components(result.model_uri)
    local = AutoModelForSequenceClassification.from_pretrained(tmp / "out3" / "final").eval()
    texts = ["I love it", "meeting at noon", "worst day"]
    np.testing.assert_allclose(
        predict_logits(model, tokenizer, texts, max_length=32),
        predict_logits(local, tokenizer, texts, max_length=32),
        atol=1e-5,
    )


def test_model_card_is_in_the_registry(two_runs):
    tmp, first, _ = two_runs
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    card = MlflowClient().get_model_version("tweet-mood", first.registered_version).description
    assert f"test macro-recall {first.test_metrics['macro_recall']:.4f}" in card
    assert "## Limitations" in card and "Sarcasm" in card


def test_standalone_evaluate_matches_the_run(two_runs):
    import json

    from training.evaluate import evaluate

    tmp, first, _ = two_runs
    cfg = load_config(TINY_CONFIG, tiny_overrides(tmp))
    metrics = evaluate(cfg, f"runs:/{first.run_id}/model", "test", tmp / "eval")
    assert metrics["macro_recall"] == pytest.approx(first.test_metrics["macro_recall"])
    saved = json.loads((tmp / "eval" / "metrics_test.json").read_text())
    assert saved["macro_recall"] == pytest.approx(metrics["macro_recall"])
    assert (tmp / "eval" / "confusion_test.png").stat().st_size > 0
