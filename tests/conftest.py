"""Shared test setup: offline, no telemetry, paths to the data and fixtures."""

import os
from pathlib import Path

# Before any library is imported: no Hub access, no BentoML usage tracking.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from load_tests.common import data_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "tweets"
TINY_CONFIG = ROOT / "configs" / "tiny.yaml"


# The data directory in use: TWEETMOOD_DATA_DIR, else the shared data beside the repo (as the load tools).
real_data_dir = data_dir


@pytest.fixture(scope="session")
def fixture_data_dir() -> Path:
    return FIXTURE_DATA


def tiny_overrides(tmp: Path) -> list[str]:
    """Keep every artifact of a tiny training run inside ``tmp``."""
    return [
        f"data.dir={FIXTURE_DATA}",
        f"mlflow.tracking_uri=sqlite:///{tmp}/mlflow.db",
        f"mlflow.artifact_root={tmp}/mlartifacts",
        f"train.output_dir={tmp}/out",
    ]
