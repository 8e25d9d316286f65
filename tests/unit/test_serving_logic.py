"""Service logic in-process: settings, device policy, post-processing, the request guard."""

import asyncio
import json

import httpx
import pytest

from training.http_guard import DocsRedirect, RequestGuard
from training.schemas import ClassifyBatchRequest, ClassifyRequest, Label
from training.serving import ServingSettings, device_policy, to_prediction


def test_settings_from_env():
    s = ServingSettings.from_env({"TWEETMOOD_MAX_BATCH_SIZE": "32", "TWEETMOOD_BATCHING": "0", "OTHER": "x"})
    assert s.max_batch_size == 32 and s.effective_batch_size == 1
    assert ServingSettings.from_env({}).effective_batch_size == 64


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TWEETMOOD_MAX_BATCH_SIZE": "0"}, "TWEETMOOD_MAX_BATCH_SIZE"),
        ({"TWEETMOOD_DEVICE": "tpu"}, "TWEETMOOD_DEVICE"),
    ],
)
def test_bad_settings_are_named(env, named):
    with pytest.raises(ValueError, match=named):
        ServingSettings.from_env(env)


def test_cpu_threads_are_shared_among_workers():
    policy = device_policy("cpu", workers=2)
    assert policy.device == "cpu" and policy.threads >= 1
    assert device_policy("cpu", workers=1, threads=3).threads == 3


def test_to_prediction_is_argmax():
    pred = to_prediction([0.2, 0.1, 0.7])
    assert pred == {"label": "positive", "scores": {"negative": 0.2, "neutral": 0.1, "positive": 0.7}}
    assert to_prediction([0.5, 0.3, 0.2])["label"] == "negative"


def test_schema_labels_follow_the_label_list():
    assert Label.__args__ == ("negative", "neutral", "positive")


@pytest.mark.parametrize("text", ["", "   ", "a" * 10_001])
def test_request_text_validation(text):
    with pytest.raises(ValueError):
        ClassifyRequest(text=text)


def test_batch_request_bounds():
    ClassifyBatchRequest(texts=["a"] * 256)
    with pytest.raises(ValueError):
        ClassifyBatchRequest(texts=["a"] * 257)


async def _echo_app(scope, receive, send):
    message = await receive()
    body = json.dumps({"echo": message["body"].decode("latin-1")}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def _post(app, path, content, ctype="application/json"):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, content=content, headers={"content-type": ctype})

    return asyncio.run(go())


def test_guard_passes_good_requests_through():
    app = RequestGuard(_echo_app, paths={"/classify"}, max_body_bytes=100)
    r = _post(app, "/classify", b'{"text": "hi"}')
    assert r.status_code == 200 and r.json() == {"echo": '{"text": "hi"}'}
    assert _post(app, "/other", b"\xff", "text/plain").status_code == 200  # other paths untouched


@pytest.mark.parametrize(
    ("content", "ctype", "status", "message"),
    [
        (b'{"text": "hi"}', "text/plain", 415, "Content-Type must be application/json"),
        (b'{"text": "\xff"}', "application/json", 400, "not valid UTF-8"),
        (b"x" * 101, "application/json", 413, "exceeds the limit"),
    ],
)
def test_guard_rejects(content, ctype, status, message):
    r = _post(RequestGuard(_echo_app, paths={"/classify"}, max_body_bytes=100), "/classify", content, ctype)
    assert r.status_code == status and message in r.json()["error"]


def test_docs_redirect():
    async def go():
        transport = httpx.ASGITransport(app=DocsRedirect(_echo_app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/docs")

    r = asyncio.run(go())
    assert r.status_code == 307 and r.headers["location"] == "/"
