"""Soak test: real tweets at a steady load for N minutes; no request may fail, memory must not grow.

    # against a running server (pass the PID of `bentoml serve` to watch its memory):
    python load_tests/soak.py --url http://127.0.0.1:3000 --pid "$(pgrep -f 'bentoml serve' | head -1)"
    # or let it start (and always stop) its own server from the BentoML store:
    python load_tests/soak.py --start-server --model-tag tweet-mood:latest --minutes 10

Load: ``--concurrency`` closed-loop clients (default 8), optionally capped at ``--rate`` req/s overall,
posting /classify and, every ``--batch-every``-th request, a /classify_batch of 1-32 tweets.
Memory: the RSS summed over the server's process tree (psutil), sampled at the start, every
``--sample-s`` seconds and at the end; the baseline is the sample ``--settle-s`` (60) seconds into
the load, once the allocator has seen the batch shapes. Exit 1 on any failed request (non-200,
bad body, transport error) or when RSS grew more than ``--max-rss-growth-mb`` (default 200 MB)
over the baseline. Bounded: the run stops after ``--minutes``, in-flight requests time out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")

import httpx  # noqa: E402
import psutil  # noqa: E402

from load_tests.common import (  # noqa: E402
    Server,
    bentoml_serve_cmd,
    exit_on_signals,
    free_port,
    kill_all,
    load_tweets,
    pct,
)

LABELS = {"negative", "neutral", "positive"}


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """(RSS in MB summed over the process and its descendants, number of processes)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0
    total = 0
    alive = 0
    for p in procs:
        try:
            total += p.memory_info().rss
            alive += 1
        except psutil.NoSuchProcess:
            pass
    return total / 2**20, alive


def _ok(resp: httpx.Response, n: int | None) -> bool:
    if resp.status_code != 200:
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    if n is None:
        return body.get("label") in LABELS
    results = body.get("results")
    return isinstance(results, list) and len(results) == n


async def soak(args, texts: list[str], pid: int | None) -> dict:
    stats = {"sent": 0, "ok": 0, "failed": 0, "failures": [], "lat_ms": [], "samples": []}
    rng = random.Random(args.seed)
    deadline_holder = {}
    gap = args.concurrency / args.rate if args.rate else 0.0  # per-client pacing for the overall rate

    def sample(phase: str) -> None:
        if pid is None:
            return
        mb, n = tree_rss_mb(pid)
        t = round(time.monotonic() - deadline_holder.get("t0", time.monotonic()), 1)
        stats["samples"].append({"t_s": t, "phase": phase, "rss_mb": round(mb, 1), "processes": n})
        print(
            f"  [{t:7.1f} s] {phase:<8} RSS {mb:8.1f} MB over {n} processes; "
            f"{stats['ok']} ok, {stats['failed']} failed",
            flush=True,
        )

    async def one(client: httpx.AsyncClient, i: int) -> None:
        if args.batch_every and i % args.batch_every == args.batch_every - 1:
            batch = rng.choices(texts, k=rng.randint(1, 32))
            path, body, n = "/classify_batch", {"texts": batch}, len(batch)
        else:
            path, body, n = "/classify", {"text": texts[i % len(texts)]}, None
        stats["sent"] += 1
        t0 = time.perf_counter()
        try:
            resp = await client.post(args.url + path, json=body)
            good, why = _ok(resp, n), f"{path} HTTP {resp.status_code}: {resp.text[:200]}"
        except httpx.HTTPError as err:
            good, why = False, f"{path} {type(err).__name__}: {err}"
        if good:
            stats["ok"] += 1
            stats["lat_ms"].append((time.perf_counter() - t0) * 1000)
        else:
            stats["failed"] += 1
            if len(stats["failures"]) < 20:
                stats["failures"].append(why)
            print(f"  FAILED: {why}", flush=True)

    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=args.request_timeout) as client:
        for i in range(args.warmup):  # warm-up: not counted, before the memory baseline
            await client.post(args.url + "/classify", json={"text": texts[i % len(texts)]})
        deadline_holder["t0"] = t0 = time.monotonic()
        end = t0 + args.minutes * 60
        sample("start")
        counter = iter(range(10**9))

        async def client_loop() -> None:
            while time.monotonic() < end:
                started = time.monotonic()
                await one(client, next(counter))
                if gap:
                    await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))

        async def sampler() -> None:
            settle_at = t0 + args.settle_s if 0 < args.settle_s < args.minutes * 60 else None
            next_at = t0 + args.sample_s
            while True:
                due = min(x for x in (next_at, settle_at, end) if x is not None)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if time.monotonic() >= end:
                    return
                if settle_at is not None and time.monotonic() >= settle_at:
                    sample("baseline")
                    settle_at = None
                else:
                    sample("periodic")
                    next_at += args.sample_s

        await asyncio.wait_for(
            asyncio.gather(sampler(), *(client_loop() for _ in range(args.concurrency))),
            args.minutes * 60 + args.request_timeout + 30,
        )
        stats["wall_s"] = time.monotonic() - t0
        sample("end")
    return stats


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:3000")
    where.add_argument("--start-server", action="store_true", help="start bentoml serve (and stop it)")
    ap.add_argument("--pid", type=int, help="PID of the running `bentoml serve` (for RSS sampling)")
    ap.add_argument("--model-tag", default="tweet-mood:latest", help="with --start-server")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rate", type=float, default=0.0, help="overall req/s cap (0: as fast as answered)")
    ap.add_argument("--batch-every", type=int, default=10, help="every Nth request is a batch (0: never)")
    ap.add_argument("--sample-s", type=float, default=30.0, help="RSS sampling period")
    ap.add_argument("--max-rss-growth-mb", type=float, default=200.0, help="over the baseline")
    ap.add_argument(
        "--settle-s",
        type=float,
        default=60.0,
        help="the RSS baseline is taken this long into the load (allocator warm-up); 0: at the start",
    )
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--request-timeout", type=float, default=60.0)
    ap.add_argument("--data-csv", type=Path, help="tweets CSV (default: TWEETMOOD_DATA_DIR/validation.csv)")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.url:
        args.url = args.url.rstrip("/")
    if args.minutes <= 0 or args.concurrency < 1:
        ap.error("--minutes must be > 0 and --concurrency >= 1")
    return args


def report(args, stats: dict) -> int:
    lat = stats["lat_ms"]
    samples = stats["samples"]
    base = next((s for s in samples if s["phase"] == "baseline"), samples[0] if samples else None)
    growth = samples[-1]["rss_mb"] - base["rss_mb"] if len(samples) >= 2 else None
    summary = {
        "url": args.url,
        "minutes": args.minutes,
        "concurrency": args.concurrency,
        "rate_cap": args.rate or None,
        "sent": stats["sent"],
        "ok": stats["ok"],
        "failed": stats["failed"],
        "throughput_rps": round(stats["ok"] / stats["wall_s"], 2) if stats.get("wall_s") else None,
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "p99_ms": pct(lat, 99),
        "rss_samples": samples,
        "rss_baseline": base,
        "rss_growth_mb": growth,
        "rss_growth_since_start_mb": samples[-1]["rss_mb"] - samples[0]["rss_mb"] if samples else None,
        "max_rss_growth_mb": args.max_rss_growth_mb,
        "failures": stats["failures"],
    }
    print(
        f"\nsoak: {summary['sent']} requests in {stats.get('wall_s', 0):.0f} s "
        f"({summary['throughput_rps']} ok/s), {summary['failed']} failed; "
        f"p50 {summary['p50_ms'] or 0:.0f} / p95 {summary['p95_ms'] or 0:.0f} / "
        f"p99 {summary['p99_ms'] or 0:.0f} ms"
    )
    if growth is not None:
        print(
            f"RSS {samples[0]['rss_mb']:.0f} MB at start, {base['rss_mb']:.0f} MB at the baseline "
            f"({base['t_s']:.0f} s), {samples[-1]['rss_mb']:.0f} MB at the end: growth since the baseline "
            f"{growth:+.1f} MB (limit {args.max_rss_growth_mb:.0f} MB)"
        )
    else:
        print("RSS not sampled (give --pid of the server, or use --start-server)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))
    problems = []
    if stats["failed"]:
        problems.append(f"{stats['failed']} failed request(s), first: {stats['failures'][0]}")
    if stats["ok"] == 0:
        problems.append("no successful request")
    if growth is not None and growth > args.max_rss_growth_mb:
        problems.append(f"RSS grew {growth:.0f} MB, over {args.max_rss_growth_mb:.0f} MB")
    if problems:
        print("FAIL: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("PASS")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_signals()
    texts = load_tweets(args.data_csv)
    try:
        if args.start_server:
            port = free_port()
            env = {**os.environ, "TWEETMOOD_MODEL_TAG": args.model_tag}
            log = Path(os.environ.get("TMPDIR", "/tmp")) / f"tweetmood-soak-{port}.log"
            with Server("bentoml serve", bentoml_serve_cmd(port), env, "/readyz", port, log) as srv:
                args.url = srv.url
                print(f"started {srv.url} (pid {srv.proc.pid}, log {log})", flush=True)
                stats = asyncio.run(soak(args, texts, srv.proc.pid))
        else:
            if args.pid is not None and not psutil.pid_exists(args.pid):
                print(f"soak: no process {args.pid}", file=sys.stderr)
                return 2
            stats = asyncio.run(soak(args, texts, args.pid))
    finally:
        kill_all()
    return report(args, stats)


if __name__ == "__main__":
    sys.exit(main())
