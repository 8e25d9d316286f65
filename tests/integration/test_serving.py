"""The HTTP contract of a real `bentoml serve` process, bad input, batching under concurrency."""

import asyncio
import re

import httpx
import pytest

pytestmark = pytest.mark.integration
LABELS = {"negative", "neutral", "positive"}


def _check_prediction(pred: dict) -> None:
    assert pred["label"] in LABELS
    assert set(pred["scores"]) == LABELS
    assert sum(pred["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert pred["label"] == max(pred["scores"], key=pred["scores"].get)


def test_classify(server):
    r = httpx.post(
        f"{server['url']}/classify", json={"text": "I love this so much @bob https://t.co/x"}, timeout=30
    )
    assert r.status_code == 200, r.text
    body = r.json()
    _check_prediction(body)
    assert body["model"] == server["tag"]


def test_classify_batch_keeps_order(server):
    texts = ["Worst day ever, I hate it", "Meeting at 3pm", "Best concert ever!", "Worst day ever, I hate it"]
    r = httpx.post(f"{server['url']}/classify_batch", json={"texts": texts}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == server["tag"] and len(body["results"]) == 4
    for pred in body["results"]:
        _check_prediction(pred)
    assert body["results"][0] == body["results"][3]  # same text, same answer, in input order
    single = httpx.post(f"{server['url']}/classify", json={"text": texts[2]}, timeout=30).json()
    assert single["scores"] == pytest.approx(body["results"][2]["scores"], abs=1e-5)


def test_normalisation_is_applied(server):
    a = httpx.post(f"{server['url']}/classify", json={"text": "thanks @Alice_99 see https://t.co/abc"}).json()
    b = httpx.post(f"{server['url']}/classify", json={"text": "thanks @user see http"}).json()
    assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)


BAD_INPUTS = [
    ("classify", b"{bad json", "application/json", 400, "Invalid JSON"),
    ("classify", b"{}", "application/json", 400, "Field required"),
    ("classify", b'{"text": 5}', "application/json", 400, "valid string"),
    ("classify", b'{"text": null}', "application/json", 400, "valid string"),
    ("classify", b'{"text": ""}', "application/json", 400, "at least 1 character"),
    ("classify", b'{"text": "   \\n "}', "application/json", 400, "empty or only whitespace"),
    ("classify", b'{"text": "' + b"a" * 10_001 + b'"}', "application/json", 400, "at most 10000 characters"),
    ("classify", b'{"text": "ok", "extra": 1}', "application/json", 400, "Extra inputs"),
    ("classify", b'["a"]', "application/json", 400, "object"),
    ("classify_batch", b'{"texts": []}', "application/json", 400, "at least 1 item"),
    (
        "classify_batch",
        b'{"texts": [' + b",".join([b'"a"'] * 257) + b"]}",
        "application/json",
        400,
        "at most 256",
    ),
    ("classify_batch", b'{"texts": ["a", 3]}', "application/json", 400, "valid string"),
    ("classify_batch", b'{"texts": "abc"}', "application/json", 400, "valid array"),
    ("classify", b'{"text": "\xff\xfe"}', "application/json", 400, "not valid UTF-8"),
    ("classify", b'{"text": "hi"}', "text/plain", 415, "Content-Type must be application/json"),
    (
        "classify",
        b'{"text": "' + b"a" * (5 * 1024 * 1024) + b'"}',
        "application/json",
        413,
        "exceeds the limit",
    ),
    ("mood", b'{"tweets": []}', "application/json", 400, "at least 1 item"),
    (
        "mood",
        b'{"tweets": [{"text": "x", "created_at": "yesterday"}]}',
        "application/json",
        400,
        "created_at",
    ),
    (
        "mood",
        b'{"tweets": [{"text": "x", "created_at": "2018-01-01"}], "freq": "Y"}',
        "application/json",
        400,
        "freq",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "ctype", "status", "message"), BAD_INPUTS, ids=lambda v: str(v)[:30]
)
def test_bad_input_is_a_clear_4xx(server, path, body, ctype, status, message):
    r = httpx.post(f"{server['url']}/{path}", content=body, headers={"content-type": ctype}, timeout=30)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    assert message in r.text
    # ... and the server keeps serving.
    ok = httpx.post(f"{server['url']}/classify", json={"text": "still here?"}, timeout=30)
    assert ok.status_code == 200


def test_mood_endpoint(server):
    tweets = [
        {"text": "great day", "created_at": "2018-01-01T10:00:00Z"},
        {"text": "awful day", "created_at": "2018-01-03T10:00:00+02:00"},
        {"text": "meeting today", "created_at": "2018-01-09T10:00:00"},
    ]
    r = httpx.post(f"{server['url']}/mood", json={"tweets": tweets, "freq": "W"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["period"] for p in body["timeline"]] == ["2018-01-01", "2018-01-08"]
    assert [p["n"] for p in body["timeline"]] == [2, 1]
    for p in body["timeline"]:
        assert p["share_negative"] + p["share_neutral"] + p["share_positive"] == pytest.approx(1.0)
        assert -1 <= p["polarity"] <= 1


def _batch_histogram(metrics_text: str) -> tuple[float, float]:
    """(sum, count) of bentoml_service_adaptive_batch_size for the model service's predict."""
    total = count = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith("bentoml_service_adaptive_batch_size") or "TweetMoodModel" not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if re.match(r"bentoml_service_adaptive_batch_size_sum\{", line):
            total += value
        elif re.match(r"bentoml_service_adaptive_batch_size_count\{", line):
            count += value
    return total, count


async def _concurrent_singles(url: str, texts: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=url, timeout=120, limits=httpx.Limits(max_connections=64)
    ) as client:
        return await asyncio.gather(*(client.post("/classify", json={"text": t}) for t in texts))


def test_64_concurrent_requests_are_batched(server):
    url = server["url"]
    for i in range(12):  # warm-up: the dispatcher learns its cost model from the first calls
        assert httpx.post(f"{url}/classify", json={"text": f"warm up {i}"}, timeout=30).status_code == 200
    sum_before, count_before = _batch_histogram(httpx.get(f"{url}/metrics").text)
    texts = [f"tweet number {i}: {'I love it' if i % 2 else 'I hate it'}" for i in range(64)]
    responses = asyncio.run(_concurrent_singles(url, texts))
    sum_after, count_after = _batch_histogram(httpx.get(f"{url}/metrics").text)
    assert [r.status_code for r in responses] == [200] * 64
    texts_batched, batches = sum_after - sum_before, count_after - count_before
    print(f"64 concurrent requests → {batches:.0f} model batches, mean size {texts_batched / batches:.1f}")
    assert texts_batched == 64
    assert batches < 64, f"64 requests went through {batches} batches: no batching"
    expected = httpx.post(f"{url}/classify_batch", json={"texts": texts}, timeout=60).json()["results"]
    for r, exp in zip(responses, expected, strict=True):
        assert r.json()["label"] == exp["label"]
        assert r.json()["scores"] == pytest.approx(exp["scores"], abs=1e-5)


def test_health_metrics_and_docs(server):
    url = server["url"]
    for path in ("/healthz", "/livez", "/readyz"):
        assert httpx.get(url + path).status_code == 200, path
    metrics = httpx.get(f"{url}/metrics").text
    assert "bentoml_service_request_total" in metrics
    spec = httpx.get(f"{url}/docs.json").json()
    for path in ("/classify", "/classify_batch", "/mood"):
        assert path in spec["paths"]
    assert "Paris" in str(spec["paths"]["/classify"]) or "Paris" in str(spec.get("components"))
    docs = httpx.get(f"{url}/docs", follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_bentoml_python_client(server):
    import bentoml

    with bentoml.SyncHTTPClient(server["url"], server_ready_timeout=30) as client:
        single = client.classify({"text": "I love this!"})
        batch = client.classify_batch({"texts": ["I love this!", "I hate this."]})
    assert single["model"] == server["tag"] and single["label"] in LABELS
    assert batch["results"][0]["scores"] == pytest.approx(single["scores"], abs=1e-5)
