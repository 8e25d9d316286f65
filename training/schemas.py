"""The HTTP contract: typed request/response models shared by service.py, clients and tests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from training.labels import LABELS

MAX_TEXT_CHARS = 10_000
MAX_BATCH_TEXTS = 256
MAX_MOOD_TWEETS = 5_000

Label = Literal["negative", "neutral", "positive"]
assert tuple(Label.__args__) == LABELS  # one label list: the literal must follow it


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or only whitespace")
    return text


TweetText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_CHARS, description=f"A tweet, 1 to {MAX_TEXT_CHARS} characters."),
    AfterValidator(_not_blank),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ClassifyRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"example": {"text": "Just landed in Paris, what a view! ✈️"}})
    text: TweetText


class ClassifyBatchRequest(_Request):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "texts": ["I love this!", "Meeting moved to 3pm.", "Worst service ever, never again."]
            }
        }
    )
    texts: list[TweetText] = Field(min_length=1, max_length=MAX_BATCH_TEXTS, description="1 to 256 tweets.")


class Scores(BaseModel):
    negative: float
    neutral: float
    positive: float


class Prediction(BaseModel):
    label: Label
    scores: Scores


class ClassifyResponse(Prediction):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "label": "positive",
                "scores": {"negative": 0.02, "neutral": 0.08, "positive": 0.9},
                "model": "tweet-mood:abc123",
            }
        }
    )
    model: str = Field(description="The BentoML model that answered, tweet-mood:<tag>.")


class ClassifyBatchResponse(BaseModel):
    results: list[Prediction]
    model: str


class TimedTweet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: TweetText
    created_at: datetime = Field(description="ISO-8601 time; without a zone it is taken as UTC.")


class MoodRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "tweets": [
                    {"text": "Great rally tonight, thank you!", "created_at": "2018-10-08T23:00:00Z"},
                    {"text": "The Fake News is a disgrace.", "created_at": "2018-10-15T12:00:00Z"},
                ],
                "freq": "W",
            }
        },
    )
    tweets: list[TimedTweet] = Field(min_length=1, max_length=MAX_MOOD_TWEETS)
    freq: Literal["D", "W", "M"] = Field("W", description="day, week or month")


class MoodPeriod(BaseModel):
    period: str = Field(description="First day of the period, YYYY-MM-DD.")
    n: int
    share_negative: float
    share_neutral: float
    share_positive: float
    polarity: float = Field(description="Mean of P(positive) − P(negative).")


class MoodResponse(BaseModel):
    freq: Literal["D", "W", "M"]
    timeline: list[MoodPeriod]
    model: str
