"""Pass/fail gate over a Locust ``--csv PREFIX`` run: no failed request, p95 within a budget.

    python load_tests/check_locust.py outputs/locust/run --p95-ms 1000

Reads ``PREFIX_stats.csv`` (and ``PREFIX_failures.csv`` for the messages, when present). Exit 0 when
the Aggregated row has requests, no failures, and its "95%" column is at most ``--p95-ms``; exit 1
with the reasons otherwise (2 when the file is missing or malformed).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path


class StatsError(ValueError):
    """The stats file is missing or not a Locust stats CSV."""


@dataclass
class Row:
    type: str
    name: str
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def _num(value: str | None) -> float | None:
    """Locust writes "N/A" for a percentile without data."""
    if value is None or value.strip() in ("", "N/A"):
        return None
    return float(value)


def read_stats(prefix: str | Path) -> list[Row]:
    path = Path(f"{prefix}_stats.csv")
    if not path.is_file():
        raise StatsError(f"{path}: no such file (was locust run with --csv {prefix}?)")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        needed = {"Type", "Name", "Request Count", "Failure Count", "95%"}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise StatsError(f"{path}: not a Locust stats CSV, missing columns {sorted(missing)}")
        try:
            return [
                Row(
                    type=r["Type"],
                    name=r["Name"],
                    requests=int(r["Request Count"]),
                    failures=int(r["Failure Count"]),
                    p50_ms=_num(r.get("50%")),
                    p95_ms=_num(r["95%"]),
                    p99_ms=_num(r.get("99%")),
                    rps=_num(r.get("Requests/s")) or 0.0,
                )
                for r in reader
            ]
        except (TypeError, ValueError) as err:
            raise StatsError(f"{path}: malformed row ({err})") from None


def aggregated(rows: list[Row]) -> Row:
    for row in rows:
        if row.name == "Aggregated":
            return row
    raise StatsError("no 'Aggregated' row in the stats file")


def read_failures(prefix: str | Path, limit: int = 10) -> list[str]:
    path = Path(f"{prefix}_failures.csv")
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            f"{r.get('Occurrences', '?')}× {r.get('Method', '')} {r.get('Name', '')}: {r.get('Error', '')}"
            for r in list(csv.DictReader(fh))[:limit]
        ]


def check(rows: list[Row], p95_budget_ms: float, max_error_rate: float = 0.0) -> list[str]:
    """The reasons the run fails (empty: it passes)."""
    total = aggregated(rows)
    problems = []
    if total.requests == 0:
        problems.append("no requests were made")
    if total.error_rate > max_error_rate:
        problems.append(
            f"error rate {total.error_rate:.2%} ({total.failures}/{total.requests} failed) "
            f"is above {max_error_rate:.2%}"
        )
    if total.p95_ms is None:
        if total.requests:
            problems.append("p95 latency is N/A")
    elif total.p95_ms > p95_budget_ms:
        problems.append(f"p95 latency {total.p95_ms:.0f} ms is over the budget of {p95_budget_ms:.0f} ms")
    return problems


def _fmt(v: float | None) -> str:
    return "N/A" if v is None else f"{v:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prefix", help="the --csv PREFIX given to locust (reads PREFIX_stats.csv)")
    ap.add_argument("--p95-ms", type=float, default=1000.0, help="p95 latency budget (default 1000 ms)")
    ap.add_argument("--max-error-rate", type=float, default=0.0, help="allowed failed fraction (default 0)")
    args = ap.parse_args(argv)
    try:
        rows = read_stats(args.prefix)
        problems = check(rows, args.p95_ms, args.max_error_rate)
    except StatsError as err:
        print(f"check_locust: {err}", file=sys.stderr)
        return 2
    print(f"{'endpoint':<20} {'requests':>9} {'failures':>9} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
    for r in rows:
        print(
            f"{r.name:<20} {r.requests:>9} {r.failures:>9} {r.rps:>7.1f} "
            f"{_fmt(r.p50_ms):>6} {_fmt(r.p95_ms):>6} {_fmt(r.p99_ms):>6}"
        )
    if problems:
        for line in read_failures(args.prefix):
            print(f"  failure: {line}", file=sys.stderr)
        print("FAIL: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"PASS: no failures, p95 within {args.p95_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
