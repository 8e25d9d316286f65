"""A real `bentoml serve` of a freshly trained and imported tiny model, in temporary directories."""

import os
import subprocess
import sys

import pytest

from load_tests.common import Server, bentoml_serve_cmd, free_port
from tests.conftest import ROOT, TINY_CONFIG, tiny_overrides


def cli(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    """``tweetmood ARGS`` as a subprocess (its own BENTOML_HOME, MLflow store, ...)."""
    cmd = [sys.executable, "-m", "training.cli", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_cli(args: list[str], env: dict, timeout: int = 600) -> str:
    proc = cli(args, env, timeout)
    assert proc.returncode == 0, (
        f"tweetmood {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Train + register (MLflow) → import (BentoML store); returns env and overrides."""
    tmp = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "HF_HUB_OFFLINE": "1",
    }
    overrides = tiny_overrides(tmp)
    sets = [arg for o in overrides for arg in ("--set", o)]
    run_cli(["train", "--config", str(TINY_CONFIG), *sets], env)
    out = run_cli(["import-model", *sets], env)
    tag = out.strip().splitlines()[-1].split("BentoML model ")[-1]
    assert tag.startswith("tweet-mood:"), out
    return {"tmp": tmp, "env": env, "sets": sets, "tag": tag}


@pytest.fixture(scope="session")
def server(stack):
    """`bentoml serve service:TweetMood` on a free port (its whole process group is killed after)."""
    port = free_port()
    cmd = bentoml_serve_cmd(port)
    with Server("bentoml serve", cmd, stack["env"], "/readyz", port, stack["tmp"] / "serve.log", 180) as srv:
        yield {"url": srv.url, "proc": srv.proc, "log": srv.log_path, "tag": stack["tag"]}
