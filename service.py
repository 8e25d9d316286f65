"""tweet-mood BentoML services: a batched model service behind a typed HTTP API.

    bentoml serve service:TweetMood        # after `tweetmood import-model`

Settings come from TWEETMOOD_* environment variables (see training/serving.py: ServingSettings
and README "Serving settings"); they are read when BentoML imports this file in each process.
"""

from __future__ import annotations

import asyncio
import logging

import bentoml
import numpy as np

from training.http_guard import DocsRedirect, RequestGuard
from training.mood import SCORE_COLUMNS, mood_timeline
from training.schemas import (
    ClassifyBatchRequest,
    ClassifyBatchResponse,
    ClassifyRequest,
    ClassifyResponse,
    MoodRequest,
    MoodResponse,
)
from training.serving import ServingSettings, device_policy, load_mood_model, to_prediction
from training.text import normalize_tweet

log = logging.getLogger("bentoml.tweet_mood")
SETTINGS = ServingSettings.from_env()


@bentoml.service(
    workers=SETTINGS.model_workers,
    threads=1,  # one batch at a time per worker: torch already uses every thread it is given
    traffic={"timeout": SETTINGS.timeout_s},
    # BentoML >= 1.4.31 recycles the caller's connection to this service every 100 requests / 300 s
    # and drops requests in flight (upstream issue 5540): effectively switch the recycling off.
    runner_connection={"max_requests": 1_000_000_000, "max_age": 1e9},
    resources={"gpu": 1} if SETTINGS.device == "cuda" else None,
)
class TweetMoodModel:
    """Loads the imported model once per worker and scores batches of normalised texts."""

    bento_model = bentoml.models.BentoModel(SETTINGS.model_tag)

    def __init__(self) -> None:
        policy = device_policy(SETTINGS.device, SETTINGS.model_workers, SETTINGS.torch_threads or None)
        self.model = load_mood_model(self.bento_model.path, policy, SETTINGS)
        self.tag = str(self.bento_model.tag)

    # Batching off (the benchmark's baseline): a plain endpoint; the API sends one text per call.
    @bentoml.api(
        batchable=SETTINGS.batching,
        max_batch_size=SETTINGS.max_batch_size,
        max_latency_ms=SETTINGS.max_latency_ms,
    )
    def predict(self, texts: list[str]) -> list[list[float]]:
        return self.model.predict_proba(texts).tolist()

    @bentoml.api
    def model_tag(self) -> str:
        return self.tag


@bentoml.service(workers=SETTINGS.api_workers, traffic={"timeout": SETTINGS.timeout_s})
class TweetMood:
    """The public API: validates, normalises and forwards texts; the model service batches them."""

    model = bentoml.depends(TweetMoodModel)

    def __init__(self) -> None:
        self._tag: str | None = None

    async def _model_tag(self) -> str:
        if self._tag is None:
            self._tag = await self.model.to_async.model_tag()
        return self._tag

    async def _scores(self, texts: list[str]) -> list[list[float]]:
        normalised = [normalize_tweet(t) for t in texts]
        size = SETTINGS.effective_batch_size
        chunks = [normalised[i : i + size] for i in range(0, len(normalised), size)]
        parts = await asyncio.gather(*(self.model.to_async.predict(chunk) for chunk in chunks))
        return [row for part in parts for row in part]

    # A positional-only pydantic parameter makes the body exactly the model: {"text": "..."}.
    @bentoml.api(route="/classify")
    async def classify(self, request: ClassifyRequest, /) -> ClassifyResponse:
        (scores,) = await self._scores([request.text])
        return ClassifyResponse(**to_prediction(scores), model=await self._model_tag())

    @bentoml.api(route="/classify_batch")
    async def classify_batch(self, request: ClassifyBatchRequest, /) -> ClassifyBatchResponse:
        scores = await self._scores(request.texts)
        return ClassifyBatchResponse(
            results=[to_prediction(s) for s in scores], model=await self._model_tag()
        )

    @bentoml.api(route="/mood")
    async def mood(self, request: MoodRequest, /) -> MoodResponse:
        import pandas as pd

        probs = np.asarray(await self._scores([t.text for t in request.tweets]))
        scored = pd.DataFrame(probs, columns=SCORE_COLUMNS)
        scored["label"] = [to_prediction(p)["label"] for p in probs]
        scored["created_at"] = pd.to_datetime([t.created_at for t in request.tweets], utc=True)
        timeline = mood_timeline(scored, request.freq)
        timeline["period"] = timeline["period"].dt.strftime("%Y-%m-%d")
        return MoodResponse(
            freq=request.freq, timeline=timeline.to_dict("records"), model=await self._model_tag()
        )


TweetMood.add_asgi_middleware(
    RequestGuard, paths={"/classify", "/classify_batch", "/mood"}, max_body_bytes=SETTINGS.max_body_bytes
)
TweetMood.add_asgi_middleware(DocsRedirect)
