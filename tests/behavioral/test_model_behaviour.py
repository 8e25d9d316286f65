"""Behavioural tests of a trained model (Made-With-ML style): opt-in, selected by model URI.

    TWEETMOOD_MODEL_URI=models:/tweet-mood@champion MLFLOW_TRACKING_URI=sqlite:///mlflow.db \\
        .venv/bin/python -m pytest -m behavioral tests/behavioral -v

Skipped when TWEETMOOD_MODEL_URI is unset (the tiny test model has learnt nothing to test).
"""

import os

import numpy as np
import pytest

from training.inference import predict_logits, softmax
from training.labels import LABELS
from training.text import normalize_tweet

pytestmark = [
    pytest.mark.behavioral,
    pytest.mark.skipif(not os.environ.get("TWEETMOOD_MODEL_URI"), reason="set TWEETMOOD_MODEL_URI to run"),
]


@pytest.fixture(scope="module")
def predict():
    import mlflow

    from training.registry import load_components

    if os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    model, tokenizer = load_components(os.environ["TWEETMOOD_MODEL_URI"])

    def run(texts: list[str]) -> np.ndarray:
        return softmax(predict_logits(model, tokenizer, [normalize_tweet(t) for t in texts]))

    return run


def _labels(probs: np.ndarray) -> list[str]:
    return [LABELS[i] for i in probs.argmax(-1)]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this so much, best day ever!", "positive"),
        ("Thank you all for the amazing birthday wishes ❤️", "positive"),
        ("Congratulations to the team on a fantastic win!", "positive"),
        ("This is the worst customer service I have ever had.", "negative"),
        ("I hate waiting two hours for a delayed train. Awful.", "negative"),
        ("So sad to hear the terrible news this morning.", "negative"),
        ("The meeting has been moved to 3pm on Tuesday.", "neutral"),
        ("The store opens at 9am on Saturday.", "neutral"),
    ],
)
def test_minimum_functionality(predict, text, label):
    assert _labels(predict([text])) == [label]


INVARIANCE = [
    ("@user Mike loved the new season of the show", "@user Sarah loved the new season of the show"),
    ("Flight to Chicago delayed again, ugh", "Flight to Denver delayed again, ugh"),
    ("Tickets for Friday's game cost $40", "Tickets for Friday's game cost $55"),
    ("Can't wait for the concert on May 3rd!", "Can't wait for the concert on June 17th!"),
    ("Read the full story here https://t.co/abc123", "Read the full story here https://bit.ly/xyz"),
    ("@JohnSmith the report is out now", "@jane_doe99 the report is out now"),
]


@pytest.mark.parametrize(("a", "b"), INVARIANCE)
def test_invariance_names_numbers_links(predict, a, b):
    assert _labels(predict([a])) == _labels(predict([b]))


BASES = [
    "Watching the game tonight with friends",
    "New phone arrived today",
    "Going to the beach this weekend",
    "The new album is out",
    "Dinner at the Italian place downtown",
]


@pytest.mark.parametrize("base", BASES)
def test_adding_terrible_does_not_raise_positive(predict, base):
    before, after = predict([base, f"{base}. Terrible."])
    assert after[LABELS.index("positive")] <= before[LABELS.index("positive")] + 1e-3


@pytest.mark.parametrize("base", BASES)
def test_adding_love_it_does_not_raise_negative(predict, base):
    before, after = predict([base, f"{base}. Love it!"])
    assert after[LABELS.index("negative")] <= before[LABELS.index("negative")] + 1e-3
