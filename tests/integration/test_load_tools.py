"""The Locust file and its pass/fail gate, run headless for ~10 s against a real `bentoml serve`."""

import os
import subprocess
import sys

import pytest

from load_tests.check_locust import main as check_main
from tests.conftest import FIXTURE_DATA, ROOT
from tests.unit.test_check_locust import _row, write_stats

pytestmark = pytest.mark.integration


def test_locust_headless_then_check(server, tmp_path, capsys):
    prefix = tmp_path / "locust" / "run"
    prefix.parent.mkdir()
    env = {**os.environ, "TWEETMOOD_DATA_DIR": str(FIXTURE_DATA), "TWEETMOOD_LOCUST_WAIT": "0.2,1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "load_tests" / "locustfile.py"),
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "10s",
            "--host",
            server["url"],
            "--csv",
            str(prefix),
            "--only-summary",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=40,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stats = (tmp_path / "locust" / "run_stats.csv").read_text()
    assert "/classify," in stats and "Aggregated" in stats
    # Generous budget: this checks the plumbing on a shared CI machine, not the latency.
    assert check_main([str(prefix), "--p95-ms", "30000"]) == 0, capsys.readouterr()

    # The same gate fails on a run with errors.
    bad = write_stats(tmp_path, [_row("POST", "/classify", 20, 2, 100), _row("", "Aggregated", 20, 2, 100)])
    assert check_main([str(bad), "--p95-ms", "30000"]) == 1
