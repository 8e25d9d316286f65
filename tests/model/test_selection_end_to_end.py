"""Trials (validation only) → selection on validation → test once → registered, with MLflow in a temp dir."""

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_CONFIG, tiny_overrides
from training.config import load_config
from training.selection import select_model
from training.train import train


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trials")
    runs = []
    for name, lr in (("lr-3e-3", "3e-3"), ("lr-1e-3", "1e-3")):
        overrides = tiny_overrides(tmp) + [
            "train.evaluate_test=false",
            "train.group_by_length=true",
            f"train.learning_rate={lr}",
            f"run_name={name}",
            f"train.output_dir={tmp}/{name}",
        ]
        runs.append(train(load_config(TINY_CONFIG, overrides)))
    return tmp, runs


def test_a_trial_never_touches_test_and_registers_nothing(trials):
    tmp, runs = trials
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    for result in runs:
        assert result.test_metrics == {} and result.registered_version is None
        run = MlflowClient().get_run(result.run_id)
        assert "val_macro_recall" in run.data.metrics
        assert not any(key.startswith("test_") for key in run.data.metrics)
        assert run.data.tags["trial"] == "true"
    assert MlflowClient().search_registered_models() == []


def test_selection_scores_on_validation_then_tests_the_chosen_model_once(trials):
    tmp, runs = trials
    cfg = load_config(TINY_CONFIG, tiny_overrides(tmp))
    uris = [f"runs:/{r.run_id}/model" for r in runs]
    selection = select_model(cfg, uris, evaluate_test=True)

    assert [c.name for c in selection.candidates] == ["lr-3e-3", "lr-1e-3"]
    best_single = max(c.macro_recall for c in selection.candidates)
    if selection.use_soup:  # a soup is adopted only when it gains min_gain on validation
        assert selection.soup.macro_recall >= best_single + selection.min_gain
    assert selection.use_offsets == (selection.offsets_oof >= selection.offsets_raw + selection.min_gain)
    assert 0 <= selection.test["macro_recall"] <= 1
    assert selection.registered_version == "1"

    client = MlflowClient()
    version = client.get_model_version("tweet-mood", "1")
    run = client.get_run(version.run_id)
    assert run.data.tags["selection"] == "true"
    assert "chosen on validation macro-recall" in version.description  # the model card says how it was made
    assert run.data.params["chosen"] == selection.chosen
    for key in ("ensemble_val_macro_recall", "offsets_oof_val_macro_recall", "test_macro_recall"):
        assert key in run.data.metrics, key
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "selection")}
    assert plots == {"selection/selection.png", "selection/val_curves.png"}
