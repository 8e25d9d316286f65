"""Locust load test of the tweet-mood API with real tweets (see load_tests/README.md).

    locust -f load_tests/locustfile.py --headless -u 16 -r 4 -t 60s \
        --host http://127.0.0.1:3000 --csv outputs/locust/run

Each simulated user posts real tweets from the validation split (``TWEETMOOD_DATA_DIR``, default
``../shared/data/tweet-sentiment`` beside the repository) to ``/classify`` and, less often, batches
of 1-32 of them to ``/classify_batch``, with a think time between requests. Requests are named by
endpoint so the statistics come per endpoint; a non-200 answer, or a 200 whose body does not have
the expected shape, is a failure carrying the status and the start of the body.

Knobs (environment): TWEETMOOD_LOCUST_WAIT="0.5,2" (think time, seconds, min,max),
TWEETMOOD_LOCUST_WEIGHTS="4,1" (classify : classify_batch), TWEETMOOD_LOCUST_MAX_BATCH=32.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

from locust import HttpUser, between, task

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"negative", "neutral", "positive"}


def data_dir() -> Path:
    return Path(os.environ.get("TWEETMOOD_DATA_DIR", ROOT / ".." / "shared" / "data" / "tweet-sentiment"))


def load_tweets(path: Path | None = None) -> list[str]:
    """The ``text`` column of the validation CSV (non-blank rows)."""
    path = path or data_dir() / "validation.csv"
    if not path.is_file():
        raise SystemExit(f"locustfile: no tweets at {path} (set TWEETMOOD_DATA_DIR to the data directory)")
    with open(path, newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh) if row.get("text", "").strip()]
    if not texts:
        raise SystemExit(f"locustfile: {path} has no non-blank 'text' rows")
    return texts


def _pair(name: str, default: str, cast=float) -> tuple:
    raw = os.environ.get(name, default)
    try:
        a, b = (cast(x) for x in raw.split(","))
    except ValueError:
        raise SystemExit(f"{name} must be two comma-separated numbers, not {raw!r}") from None
    return a, b


TWEETS = load_tweets()
WAIT_MIN, WAIT_MAX = _pair("TWEETMOOD_LOCUST_WAIT", "0.5,2")
W_SINGLE, W_BATCH = _pair("TWEETMOOD_LOCUST_WEIGHTS", "4,1", int)
MAX_BATCH = int(os.environ.get("TWEETMOOD_LOCUST_MAX_BATCH", "32"))


def _fail(resp, why: str) -> None:
    resp.failure(f"{why}: HTTP {resp.status_code}: {resp.text[:300]!r}")


def _good_prediction(pred) -> bool:
    return isinstance(pred, dict) and pred.get("label") in LABELS and set(pred.get("scores", {})) == LABELS


class TweetMoodUser(HttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)

    @task(W_SINGLE)
    def classify(self) -> None:
        text = random.choice(TWEETS)
        with self.client.post(
            "/classify", json={"text": text}, name="/classify", catch_response=True, timeout=60
        ) as resp:
            if resp.status_code != 200:
                _fail(resp, "status")
                return
            try:
                ok = _good_prediction(resp.json())
            except ValueError:
                ok = False
            if not ok:
                _fail(resp, "unexpected body")
            else:
                resp.success()

    @task(W_BATCH)
    def classify_batch(self) -> None:
        texts = random.choices(TWEETS, k=random.randint(1, MAX_BATCH))
        with self.client.post(
            "/classify_batch",
            json={"texts": texts},
            name="/classify_batch",
            catch_response=True,
            timeout=60,
        ) as resp:
            if resp.status_code != 200:
                _fail(resp, "status")
                return
            try:
                results = resp.json().get("results")
                ok = (
                    isinstance(results, list)
                    and len(results) == len(texts)
                    and all(_good_prediction(p) for p in results)
                )
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                _fail(resp, f"unexpected body for {len(texts)} texts")
            else:
                resp.success()
