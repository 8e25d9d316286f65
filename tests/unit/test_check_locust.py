"""load_tests/check_locust.py: the pass/fail gate over Locust's --csv stats, on synthetic files."""

import pytest

from load_tests.check_locust import StatsError, aggregated, check, main, read_stats

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%"
)


def _row(type_, name, n, fails, p95, p50=40):
    pcts = [p50, p50, p50, p50, p95, p95, p95, p95, p95, p95, p95]
    return ",".join(map(str, [type_, name, n, fails, p50, 50.0, 5.0, 900.0, 160.0, 3.5, 0.0, *pcts]))


def write_stats(tmp_path, rows, failures=None):
    prefix = tmp_path / "run"
    (tmp_path / "run_stats.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    if failures is not None:
        lines = ["Method,Name,Error,Occurrences", *failures]
        (tmp_path / "run_failures.csv").write_text("\n".join(lines) + "\n")
    return prefix


def test_passes_without_errors_and_within_budget(tmp_path, capsys):
    prefix = write_stats(
        tmp_path,
        [
            _row("POST", "/classify", 90, 0, 300),
            _row("POST", "/classify_batch", 10, 0, 800),
            _row("", "Aggregated", 100, 0, 400),
        ],
    )
    rows = read_stats(prefix)
    assert [r.name for r in rows] == ["/classify", "/classify_batch", "Aggregated"]
    total = aggregated(rows)
    assert (total.requests, total.failures, total.p95_ms) == (100, 0, 400.0)
    assert check(rows, 1000) == []
    assert main([str(prefix), "--p95-ms", "1000"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_fails_on_any_error(tmp_path, capsys):
    prefix = write_stats(
        tmp_path,
        [_row("POST", "/classify", 100, 1, 300), _row("", "Aggregated", 100, 1, 300)],
        failures=["POST,/classify,\"status: HTTP 503: 'overloaded'\",1"],
    )
    problems = check(read_stats(prefix), 1000)
    assert len(problems) == 1 and "error rate 1.00%" in problems[0]
    assert main([str(prefix)]) == 1
    err = capsys.readouterr().err
    assert "FAIL" in err and "HTTP 503" in err
    assert main([str(prefix), "--max-error-rate", "0.05"]) == 0


def test_fails_when_p95_over_budget(tmp_path, capsys):
    prefix = write_stats(tmp_path, [_row("", "Aggregated", 50, 0, 1500)])
    assert main([str(prefix), "--p95-ms", "1000"]) == 1
    assert "p95 latency 1500 ms is over the budget of 1000 ms" in capsys.readouterr().err
    assert main([str(prefix), "--p95-ms", "2000"]) == 0


def test_no_requests_is_a_failure(tmp_path):
    prefix = write_stats(tmp_path, [_row("", "Aggregated", 0, 0, "N/A", p50="N/A")])
    total = aggregated(read_stats(prefix))
    assert total.p95_ms is None
    assert check(read_stats(prefix), 1000) == ["no requests were made"]


def test_missing_or_malformed_files(tmp_path, capsys):
    assert main([str(tmp_path / "nothing")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad_stats.csv").write_text("a,b\n1,2\n")
    with pytest.raises(StatsError, match="missing columns"):
        read_stats(tmp_path / "bad")
    prefix = write_stats(tmp_path, [_row("POST", "/classify", 5, 0, 100)])
    with pytest.raises(StatsError, match="Aggregated"):
        aggregated(read_stats(prefix))
