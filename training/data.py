"""Load and validate the labelled tweets; report what was dropped, with counts."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset

from training.config import DataConfig
from training.labels import LABEL2ID, LABELS
from training.text import normalize_tweet

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
REQUIRED_COLUMNS = ("text", "label")


class DataError(ValueError):
    """The input data is malformed; the message names the file (and row) at fault."""


@dataclass
class SplitReport:
    source: str
    sha256: str
    rows_read: int
    empty_dropped: int = 0
    duplicates_found: int = 0
    duplicates_dropped: int = 0
    overlap_dropped: int = 0  # train rows whose text also occurs in validation or test
    subsampled_to: int | None = None
    rows_kept: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class DataReport:
    splits: dict[str, SplitReport]

    def as_dict(self) -> dict:
        return {name: asdict(rep) for name, rep in self.splits.items()}

    def metrics(self) -> dict[str, float]:
        """Counts for MLflow, e.g. ``data.train.duplicates_dropped``."""
        out: dict[str, float] = {}
        for name, rep in self.splits.items():
            for key in (
                "rows_read",
                "empty_dropped",
                "duplicates_found",
                "duplicates_dropped",
                "overlap_dropped",
                "rows_kept",
            ):
                out[f"data.{name}.{key}"] = float(getattr(rep, key))
        return out

    def summary(self) -> str:
        lines = []
        for name, r in self.splits.items():
            mix = ", ".join(f"{k} {v}" for k, v in r.label_counts.items())
            lines.append(
                f"{name}: read {r.rows_read}, dropped {r.empty_dropped} empty, "
                f"{r.duplicates_dropped} duplicate, "
                f"{r.overlap_dropped} overlapping with eval splits ({r.duplicates_found} duplicates kept); "
                f"kept {r.rows_kept} ({mix})"
            )
        return "\n".join(lines)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_csv_split(path: Path) -> Dataset:
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    # keep_default_na=False: a tweet that reads "NA" or "null" is text, not a missing value.
    ds = load_dataset("csv", data_files=str(path), split="train", keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {ds.column_names}")
    return ds.select_columns(list(REQUIRED_COLUMNS))


def _read_hub_splits(cfg: DataConfig) -> dict[str, tuple[Dataset, str]]:
    hub = load_dataset(cfg.hub_dataset, cfg.hub_config)
    out = {}
    for split in SPLITS:
        ds = hub[split]
        names = ds.features["label"].names if hasattr(ds.features["label"], "names") else list(LABELS)
        if [n.lower() for n in names] != list(LABELS):
            raise DataError(f"{cfg.hub_dataset}/{cfg.hub_config}: label names {names} != {list(LABELS)}")
        ds = ds.map(lambda b: {"label": [LABELS[i] for i in b["label"]]}, batched=True)
        fingerprint = f"{cfg.hub_dataset}/{cfg.hub_config}@{ds._fingerprint}"
        out[split] = (ds.select_columns(list(REQUIRED_COLUMNS)), fingerprint)
    return out


def _check_labels(labels: list, source: str) -> None:
    for row, label in enumerate(labels, start=1):
        if label not in LABEL2ID:
            raise DataError(
                f"{source} row {row}: unknown label {label!r} (expected one of {', '.join(LABELS)})"
            )


def _clean(
    ds: Dataset, source: str, sha: str, exclude: set[str] | None = None, drop_duplicates: bool = True
) -> tuple[Dataset, SplitReport]:
    """Normalise, drop empty texts and (optionally) duplicates, first occurrence wins; count everything.

    With ``drop_duplicates=False`` duplicates are counted but kept (evaluation splits stay the
    official benchmark rows, so figures compare with published ones).
    """
    labels = [str(x).strip().lower() for x in ds["label"]]
    _check_labels(labels, source)
    report = SplitReport(source=source, sha256=sha, rows_read=len(ds))
    seen: set[str] = set()
    texts, kept_labels = [], []
    for raw, label in zip(ds["text"], labels, strict=True):
        text = normalize_tweet(str(raw) if raw is not None else "")
        if not text:
            report.empty_dropped += 1
        elif text in seen and drop_duplicates:
            report.duplicates_dropped += 1
        elif exclude and text in exclude:
            report.overlap_dropped += 1
        else:
            report.duplicates_found += text in seen
            seen.add(text)
            texts.append(text)
            kept_labels.append(LABEL2ID[label])
    report.rows_kept = len(texts)
    report.label_counts = {name: kept_labels.count(i) for i, name in enumerate(LABELS)}
    for kind in ("empty_dropped", "duplicates_dropped", "duplicates_found", "overlap_dropped"):
        if getattr(report, kind):
            log.warning("%s: %s = %d", source, kind, getattr(report, kind))
    return Dataset.from_dict({"text": texts, "label": kept_labels}), report


def _subsample(ds: Dataset, limit: int | None, seed: int, report: SplitReport) -> Dataset:
    if limit is None or limit >= len(ds):
        return ds
    report.subsampled_to = limit
    report.rows_kept = limit
    ds = ds.shuffle(seed=seed).select(range(limit))
    labels = list(ds["label"])
    report.label_counts = {name: labels.count(i) for i, name in enumerate(LABELS)}
    return ds


def load_splits(cfg: DataConfig, seed: int = 42) -> tuple[DatasetDict, DataReport]:
    """Read, validate and clean train/validation/test. Labels become ids 0..2 in LABELS order."""
    if cfg.source == "hub":
        raw = _read_hub_splits(cfg)
    else:
        raw = {}
        for split in SPLITS:
            path = Path(cfg.dir) / f"{split}.csv"
            raw[split] = (_read_csv_split(path), sha256_file(path))
    cleaned: dict[str, Dataset] = {}
    reports: dict[str, SplitReport] = {}
    # Eval splits first, so train rows that leak into them can be dropped (and counted).
    eval_texts: set[str] = set()
    for split in ("validation", "test", "train"):
        ds, sha = raw[split]
        source = str(Path(cfg.dir) / f"{split}.csv") if cfg.source == "csv" else f"{cfg.hub_dataset}:{split}"
        exclude = eval_texts if split == "train" else None
        drop_dups = split == "train" or cfg.dedupe_eval_splits
        cleaned[split], reports[split] = _clean(ds, source, sha, exclude, drop_dups)
        if split != "train":
            eval_texts.update(cleaned[split]["text"])
    limits = {
        "train": cfg.max_train_samples,
        "validation": cfg.max_eval_samples,
        "test": cfg.max_test_samples,
    }
    for split, limit in limits.items():
        cleaned[split] = _subsample(cleaned[split], limit, seed, reports[split])
    report = DataReport({s: reports[s] for s in SPLITS})
    log.info("data:\n%s", report.summary())
    return DatasetDict({s: cleaned[s] for s in SPLITS}), report
