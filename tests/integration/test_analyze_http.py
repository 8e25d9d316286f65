"""`tweetmood analyze` scoring a messy archive through the real served model over HTTP."""

import json

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import cli, run_cli

pytestmark = pytest.mark.integration


def test_analyze_over_http(server, stack, tmp_path):
    out = tmp_path / "analysis"
    stdout = run_cli(
        [
            "analyze",
            str(ROOT / "tests" / "fixtures" / "messy_archive.csv"),
            "--url",
            server["url"],
            "--out",
            str(out),
            "--freq",
            "D",
            "--batch-size",
            "2",
            "--concurrency",
            "2",
        ],
        stack["env"],
    )
    assert "4 tweets scored" in stdout
    cleaning = json.loads((out / "cleaning.json").read_text())
    assert cleaning["rows_kept"] == 4 and cleaning["bad_dates"] == 1 and cleaning["duplicates_dropped"] == 1
    scored = pd.read_csv(out / "scored.csv")
    assert len(scored) == 4
    assert (scored[["p_negative", "p_neutral", "p_positive"]].sum(axis=1) - 1).abs().max() < 1e-5
    timeline = pd.read_csv(out / "timeline_D.csv")
    assert timeline["n"].sum() == 4
    assert (out / "timeline_D.png").stat().st_size > 10_000
    assert "## Most positive day" in (out / "report.md").read_text()


def test_analyze_reports_unreachable_server(stack, tmp_path):
    archive = str(ROOT / "tests" / "fixtures" / "messy_archive.csv")
    args = ["analyze", archive, "--url", "http://127.0.0.1:9", "--out", str(tmp_path), "--retries", "1"]
    proc = cli(args, stack["env"], timeout=300)
    assert proc.returncode == 2
    assert "failed 2 times" in proc.stderr and "ConnectError" in proc.stderr
