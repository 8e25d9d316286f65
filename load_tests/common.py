"""Shared by bench.py and soak.py: real tweets, server processes that are always killed, a bounded
asyncio + httpx load generator, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("TWEETMOOD_DATA_DIR", ROOT / ".." / "shared" / "data" / "tweet-sentiment"))


def load_tweets(path: Path | None = None, limit: int | None = None) -> list[str]:
    """Real tweets: the ``text`` column of the validation CSV, in file order."""
    path = path or data_dir() / "validation.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh) if row.get("text", "").strip()]
    if not texts:
        raise SystemExit(f"{path}: no tweets")
    return texts[:limit] if limit else texts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


# ---------------------------------------------------------------- server processes

_LIVE: list[subprocess.Popen] = []


def _terminate(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL it after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Stragglers of the group (bentoml workers) even when the leader is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc in _LIVE:
        _LIVE.remove(proc)


def kill_all() -> None:
    for proc in list(_LIVE):
        _terminate(proc, grace=5)


def exit_on_signals() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so every ``finally`` (and server kill) runs."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


class Server:
    """A server subprocess in its own session; ``with Server(...) as s:`` kills its whole group."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict,
        ready_path: str,
        port: int,
        log_path: Path,
        ready_timeout: float = 240,
    ):
        self.name, self.cmd, self.env, self.ready_path = name, cmd, env, ready_path
        self.port, self.log_path, self.ready_timeout = port, Path(log_path), ready_timeout
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with open(self.log_path, "w") as fh:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE.append(self.proc)
        try:
            self._wait_ready()
        except BaseException:
            _terminate(self.proc)
            raise
        self.startup_s = time.monotonic() - t0
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} not ready after {self.ready_timeout}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            _terminate(self.proc)


def bentoml_serve_cmd(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "service:TweetMood",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]


# ---------------------------------------------------------------- load generation


@dataclass
class LevelResult:
    concurrency: int | None
    rate: float | None
    sent: int
    ok: int
    errors: int
    wall_s: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    error_kinds: dict = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "concurrency": self.concurrency,
            "rate_target": self.rate,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "error_samples": self.error_samples,
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(self.throughput, 2),
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
            "p99_ms": pct(lat, 99),
            "max_ms": max(lat) if lat else None,
        }


Request = tuple[str, dict]  # (path, json body)
Check = Callable[[httpx.Response, dict], bool]


async def _send(
    client: httpx.AsyncClient, base: str, req: Request, check: Check | None
) -> tuple[bool, str, str]:
    path, body = req
    try:
        resp = await client.post(base + path, json=body)
    except httpx.HTTPError as err:
        return False, f"transport:{type(err).__name__}", str(err)[:200]
    if resp.status_code != 200:
        return False, f"http:{resp.status_code}", resp.text[:200]
    if check is not None and not check(resp, body):
        return False, "bad-body", resp.text[:200]
    return True, "", ""


def _record(res: LevelResult, ok: bool, kind: str, detail: str, ms: float) -> None:
    if ok:
        res.ok += 1
        res.latencies_ms.append(ms)
    else:
        res.errors += 1
        res.error_kinds[kind] = res.error_kinds.get(kind, 0) + 1
        if len(res.error_samples) < 5:
            res.error_samples.append(f"{kind}: {detail}")


async def closed_loop(
    base: str,
    requests: Callable[[int], Request],
    concurrency: int,
    n_requests: int,
    time_limit: float,
    check: Check | None = None,
    request_timeout: float = 60,
) -> LevelResult:
    """``concurrency`` clients each send the next request as soon as the previous one answers, until
    ``n_requests`` were sent or ``time_limit`` seconds passed (in-flight ones then finish)."""
    res = LevelResult(concurrency, None, 0, 0, 0, 0.0)
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=request_timeout) as client:
        t0 = time.monotonic()
        deadline = t0 + time_limit

        async def worker() -> None:
            while True:
                i = next(counter)
                if i >= n_requests or time.monotonic() >= deadline:
                    return
                res.sent += 1
                start = time.perf_counter()
                ok, kind, detail = await _send(client, base, requests(i), check)
                _record(res, ok, kind, detail, (time.perf_counter() - start) * 1000)

        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), time_limit + request_timeout + 5
        )
        res.wall_s = time.monotonic() - t0
    return res


async def open_loop(
    base: str,
    requests: Callable[[int], Request],
    rate: float,
    n_requests: int,
    time_limit: float,
    check: Check | None = None,
    max_in_flight: int = 256,
    request_timeout: float = 60,
    seed: int = 0,
) -> LevelResult:
    """Poisson arrivals at ``rate`` req/s. Latency is measured from each request's scheduled time,
    so a saturated server (or client) is not hidden by coordinated omission."""
    res = LevelResult(None, rate, 0, 0, 0, 0.0)
    rng = random.Random(seed)
    gate = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=request_timeout) as client:
        t0 = time.monotonic()

        async def one(i: int, due: float) -> None:
            async with gate:
                ok, kind, detail = await _send(client, base, requests(i), check)
            _record(res, ok, kind, detail, (time.monotonic() - due) * 1000)

        tasks, due = [], t0
        for i in range(n_requests):
            due += rng.expovariate(rate)
            if due - t0 >= time_limit:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            res.sent += 1
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.wait_for(asyncio.gather(*tasks), request_timeout + 5)
        res.wall_s = time.monotonic() - t0
    return res
