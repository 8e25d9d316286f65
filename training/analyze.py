"""``tweetmood analyze``: score a tweet archive (through a running Bento, or in-process) and
write the scored table, the mood timeline, a chart and a markdown report."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from training.archive import CleaningReport, Columns, clean_archive, read_archive
from training.labels import LABELS
from training.mood import SCORE_COLUMNS, Freq, markdown_report, mood_timeline, plot_timeline

log = logging.getLogger(__name__)
RETRY_STATUS = {429, 502, 503, 504}


class ScoringError(RuntimeError):
    """The service could not score a batch, even after retries."""


@dataclass
class HttpScorer:
    """Scores texts through ``POST /classify_batch`` with bounded concurrency and retries."""

    url: str = "http://127.0.0.1:3000"
    batch_size: int = 64
    concurrency: int = 4
    retries: int = 6
    backoff_s: float = 0.5
    timeout_s: float = 120.0

    def _post(self, client, texts: list[str]) -> np.ndarray:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                resp = client.post("/classify_batch", json={"texts": texts})
                if resp.status_code not in RETRY_STATUS:
                    break
                problem = f"HTTP {resp.status_code}"
            except httpx.TransportError as err:  # connection refused/reset, timeouts
                problem = f"{type(err).__name__}: {err}"
            if attempt == self.retries:
                raise ScoringError(
                    f"{self.url}/classify_batch failed {self.retries + 1} times; last: {problem}"
                )
            delay = self.backoff_s * 2**attempt
            log.warning("%s; retrying in %.1fs", problem, delay)
            time.sleep(delay)
        if resp.status_code != 200:
            raise ScoringError(f"{self.url}/classify_batch answered {resp.status_code}: {resp.text[:500]}")
        return np.array([[r["scores"][label] for label in LABELS] for r in resp.json()["results"]])

    def __call__(self, texts: list[str]) -> np.ndarray:
        import httpx

        chunks = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        with (
            httpx.Client(base_url=self.url, timeout=self.timeout_s) as client,
            ThreadPoolExecutor(self.concurrency) as pool,
            tqdm(total=len(texts), desc="score", unit="tweet") as bar,
        ):

            def run(chunk):
                out = self._post(client, chunk)
                bar.update(len(chunk))
                return out

            results = list(pool.map(run, chunks))  # map keeps input order
        return np.concatenate(results) if results else np.zeros((0, len(LABELS)))


def local_scorer(model_tag: str = "tweet-mood:latest"):
    """In-process scoring with the imported BentoML model (no server)."""
    import bentoml

    from training.serving import MoodModel

    model = MoodModel(bentoml.models.get(model_tag).path)

    def score(texts: list[str]) -> np.ndarray:
        return np.concatenate(
            [
                model.predict_proba(texts[i : i + 512])
                for i in tqdm(range(0, len(texts), 512), desc="score", unit="chunk")
            ]
        )

    return score


def score_frame(tweets: pd.DataFrame, scorer) -> pd.DataFrame:
    probs = scorer(tweets["text"].tolist())
    scored = tweets.copy()
    for i, column in enumerate(SCORE_COLUMNS):
        scored[column] = probs[:, i]
    scored["label"] = [LABELS[i] for i in probs.argmax(axis=1)]
    return scored


@dataclass
class AnalyzeResult:
    cleaning: CleaningReport
    files: dict[str, Path]
    seconds: float


def analyze(
    archive: Path,
    out_dir: Path,
    scorer,
    freq: Freq = "W",
    columns: Columns | None = None,
    keep_retweets: bool = False,
    date_format: str | None = None,
    title: str | None = None,
) -> AnalyzeResult:
    started = time.perf_counter()
    tweets, cleaning = clean_archive(read_archive(archive), columns, keep_retweets, date_format)
    print("[analyze] cleaning: " + ", ".join(f"{k}={v}" for k, v in cleaning.as_dict().items()))
    if tweets.empty:
        raise ValueError(f"{archive}: no tweets left to score after cleaning")
    scored = score_frame(tweets, scorer)
    timeline = mood_timeline(scored, freq)
    title = title or f"Mood of {Path(archive).stem}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "scored": out_dir / "scored.csv",
        "timeline": out_dir / f"timeline_{freq}.csv",
        "chart": out_dir / f"timeline_{freq}.png",
        "report": out_dir / "report.md",
        "cleaning": out_dir / "cleaning.json",
    }
    scored[["created_at", "text", "raw_text", "is_retweet", "label", *SCORE_COLUMNS]].to_csv(
        files["scored"], index=False
    )
    timeline.to_csv(files["timeline"], index=False)
    plot_timeline(timeline, files["chart"], title, freq)
    files["report"].write_text(markdown_report(scored, timeline, freq, title, cleaning.as_dict()))
    files["cleaning"].write_text(json.dumps(cleaning.as_dict(), indent=2))
    seconds = time.perf_counter() - started
    print(
        f"[analyze] {len(scored)} tweets scored in {seconds:.1f}s; wrote "
        + ", ".join(str(p) for p in files.values())
    )
    return AnalyzeResult(cleaning, files, seconds)
