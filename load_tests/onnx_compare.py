"""PyTorch fp32 vs ONNX Runtime int8 (and fp32) on the test set: macro-recall, agreement, texts/s.

    python load_tests/onnx_compare.py                       # tweet-mood:latest, the whole test set
    python load_tests/onnx_compare.py --max-samples 500 --speed-texts 128 --threads 2

Accuracy: every runtime scores the same normalised test texts (training.data.load_splits, as in
training and evaluation). Speed: the in-process model (no HTTP), length-sorted batches of 1 and 32
over the first --speed-texts test texts, runtimes interleaved and the best of --repeats kept, so a
busy machine penalises them alike. A model imported without --onnx-int8 gets its ONNX files
exported into a temporary folder first (the same code as the import).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-tag", default="tweet-mood:latest")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("TWEETMOOD_DATA_DIR", "../shared/data/tweet-sentiment")),
    )
    p.add_argument("--max-samples", type=int, default=None, help="test rows for accuracy (default: all)")
    p.add_argument("--speed-texts", type=int, default=256, help="texts per throughput measurement")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    p.add_argument("--repeats", type=int, default=3, help="throughput: best of this many passes")
    p.add_argument("--threads", type=int, default=0, help="CPU threads per runtime (0: all cores)")
    p.add_argument("--no-onnx-fp32", action="store_true", help="skip the ONNX fp32 variant")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p.parse_args()


def _throughput(model, texts: list[str], batch_size: int) -> float:
    model.batch_size = batch_size
    start = time.perf_counter()
    model.predict_proba(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    args = _parse()
    import bentoml
    import torch

    from training.config import DataConfig
    from training.data import load_splits
    from training.importer import ONNX_INT8_PATH
    from training.labels import LABELS
    from training.metrics import classification_metrics
    from training.onnx_runtime import OnnxMoodModel, export_onnx
    from training.serving import MoodModel, device_policy

    bento_model = bentoml.models.get(args.model_tag)
    folder = Path(bento_model.path)
    policy = device_policy("cpu", threads=args.threads or None)
    torch.set_num_threads(policy.threads)
    splits, _ = load_splits(DataConfig(dir=args.data_dir, max_test_samples=args.max_samples))
    texts, y_true = list(splits["test"]["text"]), np.asarray(splits["test"]["label"])
    print(f"model {bento_model.tag}, {len(texts)} test texts, {policy.threads} CPU threads")

    with tempfile.TemporaryDirectory() as tmp:
        int8 = folder / ONNX_INT8_PATH
        if not int8.is_file():
            print(f"{bento_model.tag} has no {ONNX_INT8_PATH} (imported without --onnx-int8): exporting one")
            int8 = export_onnx(folder, folder, tmp, quantize=True)
        models = {"pytorch-fp32": MoodModel(folder, policy)}
        if not args.no_onnx_fp32:
            fp32 = export_onnx(folder, folder, tmp, quantize=False)
            models["onnx-fp32"] = OnnxMoodModel(folder, policy, onnx_file=fp32)
        models["onnx-int8"] = OnnxMoodModel(folder, policy, onnx_file=int8)
        sizes = {"pytorch-fp32": None, "onnx-int8": int8.stat().st_size}
        if "onnx-fp32" in models:
            sizes["onnx-fp32"] = fp32.stat().st_size

        results: dict[str, dict] = {}
        ref = None
        for name, model in models.items():
            model.batch_size = 64
            start = time.perf_counter()
            probs = model.predict_proba(texts)
            elapsed = time.perf_counter() - start
            pred = probs.argmax(axis=1)
            ref = probs if ref is None else ref
            m = classification_metrics(y_true, pred)
            results[name] = {
                "macro_recall": m["macro_recall"],
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "agreement_with_pytorch": float((pred == ref.argmax(axis=1)).mean()),
                "max_abs_prob_diff": float(np.abs(probs - ref).max()),
                "scoring_s_batch64": elapsed,
                "file_mb": None if sizes[name] is None else sizes[name] / 1e6,
                **{f"{label}_recall": m[f"{label}_recall"] for label in LABELS},
            }

        speed_texts = texts[: args.speed_texts]
        for bs in args.batch_sizes:
            for model in models.values():  # warm-up (ONNX Runtime allocates on the first runs)
                model.batch_size = bs
                model.predict_proba(speed_texts[: max(bs, 8)])
            best = dict.fromkeys(models, 0.0)
            for _ in range(args.repeats):
                for name, model in models.items():
                    best[name] = max(best[name], _throughput(model, speed_texts, bs))
            for name in models:
                results[name][f"texts_per_s_batch{bs}"] = best[name]

    base = results["pytorch-fp32"]
    print(
        f"\n{'runtime':<13} {'macro-R':>8} {'Δ pts':>7} {'acc':>7} {'agree':>7} {'max|Δp|':>8} {'MB':>6}"
        + "".join(f" {'bs' + str(bs) + ' t/s':>10} {'×':>6}" for bs in args.batch_sizes)
    )
    for name, r in results.items():
        mb = "" if r["file_mb"] is None else f"{r['file_mb']:.1f}"
        delta = 100 * (r["macro_recall"] - base["macro_recall"])
        row = (
            f"{name:<13} {r['macro_recall']:>8.4f} {delta:>+7.2f} {r['accuracy']:>7.4f} "
            f"{r['agreement_with_pytorch']:>7.4f} {r['max_abs_prob_diff']:>8.4f} {mb:>6}"
        )
        for bs in args.batch_sizes:
            tps = r[f"texts_per_s_batch{bs}"]
            row += f" {tps:>10.1f} {tps / base[f'texts_per_s_batch{bs}']:>6.2f}"
        print(row)
    print(
        "\nΔ pts: macro-recall change vs PyTorch fp32, in points; agree: same arg-max as PyTorch fp32; "
        "×: throughput relative to PyTorch fp32 at that batch size (best of "
        f"{args.repeats}, {len(speed_texts)} texts)."
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": str(bento_model.tag),
            "test_texts": len(texts),
            "threads": policy.threads,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
