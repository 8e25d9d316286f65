"""Side-by-side serving benchmark: one model version, the same real tweets, four ways of running it.

    python load_tests/bench.py --model-tag tweet-mood:latest --out outputs/bench \
        [--stages inproc,bento,nobatch,mlflow] [--mlflow-uri sqlite:///mlflow.db]

Stages
  inproc   training.serving.MoodModel in this process: length-sorted, dynamically padded batches at
           batch sizes 1..64 (texts/s), and batch-1 latency (the floor of any served latency).
  bento    `bentoml serve service:TweetMood` with adaptive batching; closed-loop concurrency levels of
           single-text /classify requests; then an open-loop run at half the peak rate (p99 there is
           compared with 3 × max_latency_ms).
  nobatch  the same Bento with TWEETMOOD_BATCHING=0.
  mlflow   `mlflow models serve -m models:/tweet-mood@champion --env-manager local`,
           POST /invocations {"inputs": ["text"]}.

Prints a table and the ratios, writes OUT/bench.json and OUT/bench.png, and server logs under OUT/logs.
Every server is started in its own session and its process group is killed on the way out, errors
and Ctrl-C included. Defaults are small (200 requests per level, 45 s cap per level) so a full run
takes a few minutes on 2 cores; the numbers are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from load_tests.common import (  # noqa: E402
    LevelResult,
    Server,
    bentoml_serve_cmd,
    closed_loop,
    exit_on_signals,
    free_port,
    kill_all,
    load_tweets,
    open_loop,
    pct,
)

ALL_STAGES = ("inproc", "bento", "nobatch", "mlflow")
LABELS = {"negative", "neutral", "positive"}


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# ---------------------------------------------------------------- in-process


def stage_inproc(tag: str, texts: list[str], args) -> dict:
    import bentoml
    import torch

    from training.serving import MoodModel, device_policy

    policy = device_policy(args.device, threads=args.torch_threads or None)
    model = MoodModel(bentoml.models.get(tag).path, policy)
    sample = texts[: args.inproc_texts]
    model.batch_size = 32
    model.predict_proba(sample[:64])  # warm-up: allocator, kernels, tokenizer
    rows = []
    for bs in args.batch_sizes:
        model.batch_size = bs
        best = None
        for _ in range(args.inproc_repeats):
            t0 = time.perf_counter()
            model.predict_proba(sample)
            el = time.perf_counter() - t0
            best = el if best is None else min(best, el)
        rows.append(
            {"batch_size": bs, "texts": len(sample), "seconds": best, "texts_per_s": len(sample) / best}
        )
        print(f"  inproc batch {bs:>3}: {len(sample) / best:8.1f} texts/s", flush=True)
    model.batch_size = 1
    lat = []
    for text in texts[: args.single_texts]:
        t0 = time.perf_counter()
        model.predict_proba([text])
        lat.append((time.perf_counter() - t0) * 1000)
    out = {
        "device": policy.device,
        "torch_threads": torch.get_num_threads(),
        "batches": rows,
        "best_texts_per_s": max(r["texts_per_s"] for r in rows),
        "best_batch_size": max(rows, key=lambda r: r["texts_per_s"])["batch_size"],
        "batch1_latency_ms": {"n": len(lat), "p50": pct(lat, 50), "p95": pct(lat, 95)},
    }
    print(f"  inproc batch-1 latency p50 {out['batch1_latency_ms']['p50']:.1f} ms", flush=True)
    del model
    gc.collect()
    return out


# ---------------------------------------------------------------- served stages


def adaptive_batch_counts(url: str) -> tuple[float, float] | None:
    """(sum, count) of BentoML's adaptive batch size histogram, over all workers; None if absent."""
    try:
        text = httpx.get(url + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    total = count = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("bentoml_service_adaptive_batch_size_sum"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
        elif line.startswith("bentoml_service_adaptive_batch_size_count"):
            count += float(line.rsplit(" ", 1)[1])
    return (total, count) if found else None


def run_levels(server_url: str, make_request, check, args, metrics: bool) -> list[dict]:
    out = []
    for c in args.levels:
        before = adaptive_batch_counts(server_url) if metrics else None
        res: LevelResult = asyncio.run(
            closed_loop(server_url, make_request, c, args.requests, args.level_timeout, check)
        )
        row = res.summary()
        after = adaptive_batch_counts(server_url) if metrics else None
        if before and after and after[1] > before[1]:
            row["mean_model_batch"] = round((after[0] - before[0]) / (after[1] - before[1]), 2)
        out.append(row)
        print(
            f"  c={c:>3}: {row['throughput_rps']:7.1f} req/s  p50 {row['p50_ms'] or 0:7.1f}  "
            f"p95 {row['p95_ms'] or 0:7.1f}  p99 {row['p99_ms'] or 0:7.1f} ms  errors {row['errors']}"
            + (f"  mean batch {row['mean_model_batch']}" if "mean_model_batch" in row else ""),
            flush=True,
        )
    return out


def warm_up(server_url: str, make_request, check, n: int) -> dict:
    """Sequential requests only: BentoML's dispatcher trains its cost model on its first ~10 calls,
    and it holds later requests back for about the average queueing wait it has seen recently, so
    a concurrent burst here would inflate the concurrency-1 latencies measured next."""
    return asyncio.run(closed_loop(server_url, make_request, 1, n, 120, check)).summary()


def bento_request(texts):
    return lambda i: ("/classify", {"text": texts[i % len(texts)]})


def bento_check(resp: httpx.Response, _body: dict) -> bool:
    try:
        return resp.json().get("label") in LABELS
    except ValueError:
        return False


def stage_bento(tag: str, texts: list[str], args, batching: bool) -> dict:
    from training.serving import ServingSettings

    port = free_port()
    env = {
        **os.environ,
        "TWEETMOOD_MODEL_TAG": tag,
        "TWEETMOOD_BATCHING": "1" if batching else "0",
    }
    if args.torch_threads:
        env["TWEETMOOD_TORCH_THREADS"] = str(args.torch_threads)
    settings = ServingSettings.from_env(env)
    name = "bento" if batching else "nobatch"
    with Server(
        name,
        bentoml_serve_cmd(port),
        env,
        "/readyz",
        port,
        args.out / "logs" / f"{name}.log",
        args.ready_timeout,
    ) as srv:
        print(f"  {name}: ready in {srv.startup_s:.1f} s at {srv.url}", flush=True)
        first = httpx.post(srv.url + "/classify", json={"text": texts[0]}, timeout=60)
        first.raise_for_status()
        served_tag = first.json()["model"]
        if served_tag != tag and not tag.endswith(":latest"):
            raise RuntimeError(f"{name} serves {served_tag}, not {tag}")
        make, check = bento_request(texts), bento_check
        warm = warm_up(srv.url, make, check, args.warmup)
        levels = run_levels(srv.url, make, check, args, metrics=True)
        out = {
            "served_model": served_tag,
            "startup_s": round(srv.startup_s, 1),
            "settings": settings.model_dump(),
            "warmup": warm,
            "levels": levels,
        }
        if batching and args.half_peak:
            peak = max(r["throughput_rps"] for r in levels)
            rate = max(0.5, peak / 2)
            n = max(20, int(rate * args.half_peak_s))
            # A short unmeasured run first, so that what the dispatcher learned at peak decays.
            settle = max(3.0, args.half_peak_s / 4)
            asyncio.run(open_loop(srv.url, make, rate, int(rate * settle) + 1, settle, check, seed=1))
            res = asyncio.run(open_loop(srv.url, make, rate, n, args.half_peak_s, check))
            row = res.summary()
            row["budget_ms"] = 3 * settings.max_latency_ms
            out["half_peak"] = row
            print(
                f"  open loop at {rate:.1f} req/s (half of peak {peak:.1f}): achieved "
                f"{row['throughput_rps']:.1f} req/s, p99 {row['p99_ms'] or 0:.0f} ms "
                f"(3 x max_latency_ms = {row['budget_ms']} ms), errors {row['errors']}",
                flush=True,
            )
    return out


def mlflow_check(resp: httpx.Response, body: dict) -> bool:
    try:
        preds = resp.json()["predictions"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(preds, list) and len(preds) == len(body["inputs"])


def champion_version(model_uri: str, tracking_uri: str) -> str | None:
    """The registered version behind ``models:/NAME@ALIAS`` (or NAME/VERSION), for the record."""
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlflow.tracking import MlflowClient

    ref = model_uri.removeprefix("models:/")
    client = MlflowClient(tracking_uri)
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return str(client.get_model_version_by_alias(name, alias).version)
    return ref.partition("/")[2] or None


def stage_mlflow(texts: list[str], args, bento_labels: dict) -> dict:
    from training.text import normalize_tweet

    version = champion_version(args.mlflow_model, args.mlflow_uri)
    same = bento_labels.get("mlflow_version") == version if bento_labels else None
    if same is False:
        print(
            f"  WARNING: {args.mlflow_model} is version {version}, the BentoML model was imported from "
            f"version {bento_labels.get('mlflow_version')}: not the same model",
            flush=True,
        )
    # The Bento normalises server-side; MLflow's pyfunc does not, so send it normalised text.
    normalised = [normalize_tweet(t) for t in texts]
    port = free_port()
    bindir = str(Path(sys.executable).parent)  # mlflow execs `uvicorn` from PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": args.mlflow_uri,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
    }
    if args.torch_threads:  # torch reads it at start-up: the same thread count as the other stages
        env["OMP_NUM_THREADS"] = str(args.torch_threads)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        args.mlflow_model,
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    with Server(
        "mlflow", cmd, env, "/ping", port, args.out / "logs" / "mlflow.log", args.ready_timeout
    ) as srv:
        print(f"  mlflow: ready in {srv.startup_s:.1f} s at {srv.url}", flush=True)
        probe = httpx.post(srv.url + "/invocations", json={"inputs": [normalised[0]]}, timeout=60)
        if probe.status_code != 200 or not mlflow_check(probe, {"inputs": [normalised[0]]}):
            raise RuntimeError(
                f'mlflow /invocations rejected {{"inputs": [text]}}: {probe.status_code} {probe.text[:300]}'
            )
        make = lambda i: ("/invocations", {"inputs": [normalised[i % len(normalised)]]})  # noqa: E731
        warm = warm_up(srv.url, make, mlflow_check, args.warmup)
        levels = run_levels(srv.url, make, mlflow_check, args, metrics=False)
        return {
            "model_uri": args.mlflow_model,
            "registered_version": version,
            "same_version_as_bento": same,
            "request_format": '{"inputs": ["text"]}',
            "example_response": probe.json(),
            "startup_s": round(srv.startup_s, 1),
            "warmup": warm,
            "levels": levels,
        }


# ---------------------------------------------------------------- report


def _level(stage: dict | None, c: int) -> dict | None:
    if not stage:
        return None
    return next((r for r in stage["levels"] if r["concurrency"] == c), None)


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def ratios(res: dict, ref_c: int = 32) -> dict:
    inproc, bento, nobatch, mlf = (res["stages"].get(s) for s in ALL_STAGES)
    out: dict = {"reference_concurrency": ref_c}
    served_peak = max((r["throughput_rps"] for r in bento["levels"]), default=None) if bento else None
    out["bento_peak_rps"] = served_peak
    if inproc:
        out["inproc_best_texts_per_s"] = round(inproc["best_texts_per_s"], 1)
        out["served_peak_over_inproc_best"] = _ratio(served_peak, inproc["best_texts_per_s"])
    b32, n32, m32 = _level(bento, ref_c), _level(nobatch, ref_c), _level(mlf, ref_c)
    out["batched_over_unbatched"] = _ratio(b32 and b32["throughput_rps"], n32 and n32["throughput_rps"])
    out["bento_over_mlflow"] = _ratio(b32 and b32["throughput_rps"], m32 and m32["throughput_rps"])
    b1 = _level(bento, 1)
    if b1 and inproc and b1["p50_ms"] is not None:
        out["serving_overhead_p50_ms"] = round(b1["p50_ms"] - inproc["batch1_latency_ms"]["p50"], 2)
    if bento and "half_peak" in bento:
        hp = bento["half_peak"]
        out["half_peak"] = {
            "rate_rps": hp["rate_target"],
            "p99_ms": hp["p99_ms"],
            "budget_ms": hp["budget_ms"],
            "within_budget": hp["p99_ms"] is not None and hp["p99_ms"] <= hp["budget_ms"],
        }
    return out


def print_table(res: dict) -> None:
    st = res["stages"]
    if "inproc" in st:
        ip = st["inproc"]
        print(f"\nIn-process ({ip['device']}, {ip['torch_threads']} threads):")
        print("  batch  texts/s")
        for r in ip["batches"]:
            print(f"  {r['batch_size']:>5}  {r['texts_per_s']:8.1f}")
        print(f"  batch-1 latency p50 {ip['batch1_latency_ms']['p50']:.1f} ms")
    served = [s for s in ("bento", "nobatch", "mlflow") if s in st]
    if served:
        print(
            f"\n{'stage':<8} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6} {'batch':>6}"
        )
        for s in served:
            for r in st[s]["levels"]:
                print(
                    f"{s:<8} {r['concurrency']:>4} {r['throughput_rps']:>8.1f} {r['p50_ms'] or 0:>8.1f} "
                    f"{r['p95_ms'] or 0:>8.1f} {r['p99_ms'] or 0:>8.1f} {r['errors']:>6} "
                    f"{r.get('mean_model_batch', ''):>6}"
                )
    ra = res["ratios"]
    c = ra["reference_concurrency"]
    print("\nRatios:")
    print(f"  served peak / in-process best       {ra.get('served_peak_over_inproc_best')}")
    print(f"  batched / unbatched at c={c}          {ra.get('batched_over_unbatched')}")
    print(f"  Bento / MLflow at c={c}               {ra.get('bento_over_mlflow')}")
    print(f"  p50 at c=1 - in-process batch-1     {ra.get('serving_overhead_p50_ms')} ms")
    if "half_peak" in ra:
        hp = ra["half_peak"]
        print(
            f"  p99 at half peak ({hp['rate_rps']:.1f} req/s open loop)  {hp['p99_ms'] or 0:.0f} ms vs "
            f"3 x max_latency_ms = {hp['budget_ms']} ms: {'OK' if hp['within_budget'] else 'OVER'}"
        )


def plot(res: dict, path: Path) -> None:
    from training.metrics import pyplot

    plt = pyplot()
    st = res["stages"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    for s, color in (("bento", "tab:blue"), ("nobatch", "tab:orange"), ("mlflow", "tab:green")):
        if s not in st:
            continue
        lv = st[s]["levels"]
        cs = [r["concurrency"] for r in lv]
        ax1.plot(cs, [r["throughput_rps"] for r in lv], "o-", color=color, label=s)
        ax2.plot(cs, [r["p50_ms"] or float("nan") for r in lv], "o-", color=color, label=f"{s} p50")
        ax2.plot(cs, [r["p99_ms"] or float("nan") for r in lv], "x--", color=color, label=f"{s} p99")
    if "inproc" in st:
        ip = st["inproc"]
        ax1.axhline(ip["best_texts_per_s"], ls=":", color="k", label="in-process best")
        ax2.axhline(ip["batch1_latency_ms"]["p50"], ls=":", color="k", label="in-process batch-1 p50")
        bs = [r["batch_size"] for r in ip["batches"]]
        ax3.bar([str(b) for b in bs], [r["texts_per_s"] for r in ip["batches"]], color="tab:gray")
    ax1.set(
        xscale="log", xlabel="concurrent clients", ylabel="texts/s (single-text requests)", title="Throughput"
    )
    ax2.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="ms", title="Latency")
    ax3.set(xlabel="batch size", ylabel="texts/s", title="In-process, length-sorted batches")
    for ax in (ax1, ax2):
        ax.set_xticks(res["config"]["levels"], [str(c) for c in res["config"]["levels"]])
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"{res['model_tag']} on {res['machine']['cpus']} CPUs (load {res['machine']['loadavg_start']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-tag", default="tweet-mood:latest", help="BentoML model (BENTOML_HOME's store)")
    ap.add_argument("--out", type=Path, default=Path("outputs/bench"))
    ap.add_argument("--stages", default=",".join(ALL_STAGES), help="comma list of " + ",".join(ALL_STAGES))
    ap.add_argument("--bentoml-home", help="sets BENTOML_HOME (default: the environment's)")
    ap.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    ap.add_argument("--mlflow-model", default="models:/tweet-mood@champion")
    ap.add_argument("--data-csv", type=Path, help="tweets CSV (default: TWEETMOOD_DATA_DIR/validation.csv)")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="in-process device")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help="torch CPU threads for every stage (0: each stack's default; on a busy machine 1 can beat 2)",
    )
    ap.add_argument("--batch-sizes", type=ints, default=[1, 8, 16, 32, 64])
    ap.add_argument("--inproc-texts", type=int, default=256, help="texts per in-process batch-size run")
    ap.add_argument("--inproc-repeats", type=int, default=2, help="best of N per batch size")
    ap.add_argument("--single-texts", type=int, default=100, help="texts for the batch-1 latency")
    ap.add_argument("--levels", type=ints, default=[1, 8, 32, 64], help="client concurrency levels")
    ap.add_argument("--requests", type=int, default=200, help="requests per level")
    ap.add_argument("--level-timeout", type=float, default=45, help="seconds per level at most")
    ap.add_argument("--warmup", type=int, default=24, help="warm-up requests (sequential, then a burst)")
    ap.add_argument("--half-peak-s", type=float, default=20, help="open-loop seconds at half peak (0: skip)")
    ap.add_argument("--ready-timeout", type=float, default=240)
    args = ap.parse_args(argv)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    bad = set(args.stages) - set(ALL_STAGES)
    if bad:
        ap.error(f"unknown stages {sorted(bad)}; choose from {','.join(ALL_STAGES)}")
    args.half_peak = args.half_peak_s > 0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.bentoml_home:
        os.environ["BENTOML_HOME"] = str(Path(args.bentoml_home).resolve())
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    exit_on_signals()

    texts = load_tweets(args.data_csv)
    import bentoml

    bmodel = bentoml.models.get(args.model_tag)
    tag = str(bmodel.tag)  # resolve :latest once: every stage serves this exact version
    res: dict = {
        "model_tag": tag,
        "model_labels": dict(bmodel.info.labels),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "half_peak"
        },
        "data": {"n_texts": len(texts), "source": str(args.data_csv or "validation.csv")},
        "stages": {},
    }
    print(f"benchmark of {tag} ({len(texts)} tweets), stages {','.join(args.stages)}", flush=True)
    t_start = time.monotonic()
    failures = {}
    try:
        for stage in args.stages:
            print(f"[{stage}]", flush=True)
            try:
                if stage == "inproc":
                    from training.text import normalize_tweet

                    res["stages"][stage] = stage_inproc(tag, [normalize_tweet(t) for t in texts], args)
                elif stage in ("bento", "nobatch"):
                    res["stages"][stage] = stage_bento(tag, texts, args, batching=stage == "bento")
                else:
                    res["stages"][stage] = stage_mlflow(texts, args, res["model_labels"])
            except (RuntimeError, TimeoutError, httpx.HTTPError, OSError) as err:
                failures[stage] = f"{type(err).__name__}: {err}"
                last = "\n    ".join(failures[stage].strip().splitlines()[-4:])
                print(f"  stage {stage} FAILED (log under {args.out / 'logs'}):\n    {last}", flush=True)
    finally:
        kill_all()
    res["failures"] = failures
    res["elapsed_s"] = round(time.monotonic() - t_start, 1)
    res["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["ratios"] = ratios(res)
    print_table(res)
    (args.out / "bench.json").write_text(json.dumps(res, indent=2, default=str))
    plot(res, args.out / "bench.png")
    errors = sum(r["errors"] for s in res["stages"].values() for r in s.get("levels", []))
    print(f"\nwrote {args.out / 'bench.json'} and {args.out / 'bench.png'} in {res['elapsed_s']} s")
    if failures or errors:
        print(f"{len(failures)} stage(s) failed, {errors} request error(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
