"""``tweetmood``: the command line over the pipeline stages."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("tweetmood")


def _add_config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--config", type=Path, required=required, help="YAML config (see configs/)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=2 (repeatable)",
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.train import train

    result = train(load_config(args.config, args.overrides))
    if result.run_id is None:  # a non-zero rank of a multi-GPU run
        return 0
    test = result.test_metrics.get("macro_recall")
    test_text = f"test macro-recall {test:.4f}" if test is not None else "test not evaluated (a trial)"
    print(
        f"\nrun {result.run_id}: val macro-recall {result.val_metrics['macro_recall']:.4f}, {test_text} "
        f"({result.wall_time_s / 60:.1f} min)\nmodel {result.model_uri}, registered version "
        f"{result.registered_version}"
    )
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.train import calibrate

    result = calibrate(load_config(args.config, args.overrides), args.model_uri)
    print(
        f"\nrun {result.run_id}: val macro-recall {result.val_metrics['macro_recall']:.4f} "
        f"(offsets fitted on it), test macro-recall {result.test_metrics['macro_recall']:.4f}; "
        f"registered version {result.registered_version}"
    )
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.selection import select_model

    selection = select_model(
        load_config(args.config, args.overrides), args.model_uri, args.evaluate_test, min_gain=args.min_gain
    )
    print("\nvalidation macro-recall:")
    for c in selection.candidates:
        print(f"  {c.macro_recall:.4f}  {c.name}")
    if selection.soup:
        print(f"  {selection.soup.macro_recall:.4f}  {selection.soup.name}  (1x inference cost)")
    cost = len(selection.candidates)
    print(f"  {selection.ensemble.macro_recall:.4f}  {selection.ensemble.name}  ({cost}x inference cost)")
    print(
        f"decision rule, cross-fitted: {selection.offsets_oof:.4f} vs arg-max {selection.offsets_raw:.4f} -> "
        f"{'logit offsets' if selection.use_offsets else 'arg-max'} (min gain {selection.min_gain})\n"
        f"chosen: {selection.chosen}"
    )
    if selection.test:
        print(
            f"test macro-recall (evaluated once) {selection.test['macro_recall']:.4f}; "
            f"registered version {selection.registered_version}"
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.evaluate import evaluate

    cfg = load_config(args.config, args.overrides)
    evaluate(cfg, args.model_uri, args.split, args.out)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.importer import import_model

    cfg = load_config(args.config, args.overrides)
    import_model(cfg.mlflow, args.model_uri, force=args.force, onnx_int8=args.onnx_int8)
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from training.analyze import HttpScorer, analyze, local_scorer
    from training.archive import Columns

    scorer = (
        local_scorer(args.model_tag)
        if args.local
        else HttpScorer(
            args.url, batch_size=args.batch_size, concurrency=args.concurrency, retries=args.retries
        )
    )
    columns = Columns(args.text_column, args.date_column, args.retweet_column or None)
    analyze(
        args.archive, args.out, scorer, args.freq, columns, args.keep_retweets, args.date_format, args.title
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tweetmood", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune, evaluate, log to MLflow, register, maybe promote")
    _add_config_args(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "calibrate", help="fit the macro-recall decision rule for a trained model, as a new run"
    )
    _add_config_args(p)
    p.add_argument("--model-uri", required=True, help="e.g. runs:/<run_id>/model or models:/tweet-mood/3")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser(
        "select", help="choose among trial models on validation (soup, ensemble, decision rule); test once"
    )
    _add_config_args(p)
    p.add_argument(
        "--model-uri", action="append", required=True, help="a trial model, e.g. runs:/<id>/model (repeat)"
    )
    p.add_argument(
        "--evaluate-test", action="store_true", help="evaluate the chosen model on test once and register it"
    )
    p.add_argument(
        "--min-gain",
        type=float,
        default=0.005,
        help="validation macro-recall a soup or the decision rule must add to be adopted (default 0.005)",
    )
    p.set_defaults(func=_cmd_select)

    p = sub.add_parser("evaluate", help="evaluate a logged model on a split")
    _add_config_args(p, required=False)
    p.add_argument("--model-uri", default="models:/tweet-mood@champion")
    p.add_argument("--split", choices=["train", "validation", "test"], default="test")
    p.add_argument("--out", type=Path, default=Path("outputs/evaluation"))
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("import-model", help="import a registered MLflow model into the BentoML store")
    _add_config_args(p, required=False)
    p.add_argument(
        "--model-uri", default=None, help="default: models:/<registered_model>@<alias> from the config"
    )
    p.add_argument("--force", action="store_true", help="import again even if this version was imported")
    p.add_argument(
        "--onnx-int8",
        action="store_true",
        help="also store an int8 ONNX Runtime variant (serve with TWEETMOOD_RUNTIME=onnx-int8); "
        'needs pip install -e ".[onnx]"',
    )
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("analyze", help="score a tweet archive and chart the author's mood over time")
    p.add_argument("archive", type=Path, help="CSV, JSON or JSONL (Trump Twitter Archive columns by default)")
    p.add_argument("--out", type=Path, default=Path("outputs/analysis"))
    p.add_argument("--freq", choices=["D", "W", "M"], default="W", help="day, week or month")
    p.add_argument("--url", default="http://127.0.0.1:3000", help="a running tweet-mood Bento")
    p.add_argument("--local", action="store_true", help="score in-process instead of over HTTP")
    p.add_argument("--model-tag", default="tweet-mood:latest", help="BentoML model, with --local")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    p.add_argument(
        "--retries",
        type=int,
        default=6,
        help="per batch, with exponential backoff, on 503/429/5xx gateway errors and connection errors",
    )
    p.add_argument("--keep-retweets", action="store_true", help="score retweets too (default: drop them)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--date-column", default="created_at")
    p.add_argument("--retweet-column", default="is_retweet", help="'' if the archive has none")
    p.add_argument(
        "--date-format", default=None, help="strptime format (default: the archive formats, ISO 8601)"
    )
    p.add_argument("--title", default=None)
    p.set_defaults(func=_cmd_analyze)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from training.analyze import ScoringError
    from training.archive import ArchiveError
    from training.config import ConfigError
    from training.data import DataError
    from training.importer import ModelImportError
    from training.modeling import SupplyChainError

    try:
        return args.func(args)
    except (ConfigError, DataError, SupplyChainError, ModelImportError, ArchiveError, ScoringError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
