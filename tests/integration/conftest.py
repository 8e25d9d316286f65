"""A real `bentoml serve` of a freshly trained and imported tiny model, in temporary directories."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TINY_CONFIG, tiny_overrides


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args: list[str], env: dict, timeout: int = 600) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "training.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
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


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"bentoml serve not ready after {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def server(stack):
    """`bentoml serve service:TweetMood` on a free port; yields its base URL."""
    port = free_port()
    log = stack["tmp"] / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "service:TweetMood",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=stack["env"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield {"url": url, "proc": proc, "log": log, "tag": stack["tag"]}
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
