"""`bentoml build` from bentofile.yaml: the Bento carries the imported model, the code and a Dockerfile.

Docker does not run here: the image itself is not built (bentoml containerize needs a builder)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_bento_build(stack):
    proc = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    bento_tag = proc.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = bento_tag.split(":")
    bento = Path(stack["env"]["BENTOML_HOME"]) / "bentos" / name / version
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["name"] == "tweet-mood" and info["entry_service"] == "TweetMood"
    model_service = next(s for s in info["services"] if s["name"] == "TweetMoodModel")
    assert [m["tag"] for m in model_service["models"]] == [stack["tag"]]
    assert model_service["config"]["runner_connection"]["max_requests"] >= 1_000_000
    assert (bento / "src" / "service.py").is_file() and (bento / "src" / "training" / "text.py").is_file()
    assert not (bento / "src" / "tests").exists()
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    requirements = (bento / "env" / "python" / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in requirements and "bentoml==1.4.40" in requirements
    assert "onnxruntime==1.32.0" in requirements


def test_imported_model_carries_lineage_and_card(stack):
    name, version = stack["tag"].split(":")
    info = yaml.safe_load(
        (Path(stack["env"]["BENTOML_HOME"]) / "models" / name / version / "model.yaml").read_text()
    )
    assert info["labels"]["registered_model"] == "tweet-mood" and info["labels"]["mlflow_version"] == "1"
    assert len(info["labels"]["mlflow_run_id"]) == 32
    meta = info["metadata"]
    assert meta["labels"] == ["negative", "neutral", "positive"]
    assert 0 <= meta["test_macro_recall"] <= 1 and len(meta["train_data_sha256"]) == 64
    assert "## Limitations" in meta["model_card"]


def test_reimport_reuses_and_missing_champion_is_a_clear_error(stack, tmp_path):
    from tests.integration.conftest import cli, run_cli

    out = run_cli(["import-model", *stack["sets"]], stack["env"])
    assert f"already imported as {stack['tag']}, reusing it" in out
    proc = cli(["import-model", "--set", f"mlflow.tracking_uri=sqlite:///{tmp_path}/x.db"], stack["env"], 120)
    assert proc.returncode == 2
    assert (
        "not in the MLflow registry" in proc.stderr
        and "tweetmood train --config configs/quick.yaml" in proc.stderr
    )
