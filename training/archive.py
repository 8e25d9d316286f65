"""Read a tweet archive (CSV or JSON; Trump Twitter Archive columns by default) and clean it,
counting every row that is dropped and why."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from training.text import normalize_tweet

log = logging.getLogger(__name__)

# Trump Twitter Archive CSV export ("1/1/2019 1:05", UTC) and its JSON export / Twitter API format.
DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%a %b %d %H:%M:%S %z %Y")
_LINK_ONLY = re.compile(r"^(?:\s|https?://\S+|www\.\S+)*$", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)
_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass
class Columns:
    text: str = "text"
    created_at: str = "created_at"
    is_retweet: str | None = "is_retweet"


@dataclass
class CleaningReport:
    rows_read: int = 0
    html_entities_unescaped: int = 0
    retweets: int = 0
    retweets_dropped: int = 0
    retweet_flag_missing: int = 0
    empty_or_link_only_skipped: int = 0
    bad_dates: int = 0
    bad_date_examples: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0
    rows_kept: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "bad_date_examples" or v}


class ArchiveError(ValueError):
    """The archive cannot be read as asked; the message names the file and the problem."""


def read_archive(path: Path) -> pd.DataFrame:
    """CSV (``.csv``), a JSON list of objects (``.json``) or JSON lines (``.jsonl``), all as strings."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"archive not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix in (".json", ".jsonl"):
        text = path.read_text(encoding="utf-8")
        records = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if suffix == ".jsonl"
            else json.loads(text)
        )
        if not isinstance(records, list):
            raise ArchiveError(f"{path}: expected a JSON list of tweet objects")
        return pd.DataFrame.from_records(records).astype(str)
    raise ArchiveError(f"{path}: unsupported archive type {suffix!r} (use .csv, .json or .jsonl)")


def parse_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """UTC timestamps; NaT where no known format (or ``date_format``) matches. Nothing is guessed."""
    formats = (date_format,) if date_format else DATE_FORMATS
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    for fmt in formats:
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce", utc=True)
    if not date_format:  # ISO 8601 last ("2018-05-01T12:00:00Z")
        todo = parsed.isna()
        parsed[todo] = pd.to_datetime(values[todo], format="ISO8601", errors="coerce", utc=True)
    return parsed


def _retweet_flags(df: pd.DataFrame, cols: Columns, report: CleaningReport) -> pd.Series:
    """The archive's flag; where it is empty, a text starting "RT @" (counted in the report)."""
    looks_rt = df[cols.text].str.startswith("RT @")
    if not cols.is_retweet or cols.is_retweet not in df.columns:
        report.retweet_flag_missing = len(df)
        return looks_rt
    flag = df[cols.is_retweet].str.strip().str.lower()
    missing = ~flag.isin(_TRUE | _FALSE)
    report.retweet_flag_missing = int(missing.sum())
    return flag.isin(_TRUE) | (missing & looks_rt)


def clean_archive(
    df: pd.DataFrame, cols: Columns | None = None, keep_retweets: bool = False, date_format: str | None = None
) -> tuple[pd.DataFrame, CleaningReport]:
    """Rows → ``text`` (normalised), ``raw_text``, ``created_at`` (UTC), ``is_retweet``; counts reported."""
    cols = cols or Columns()
    missing = [c for c in (cols.text, cols.created_at) if c not in df.columns]
    if missing:
        raise ArchiveError(
            f"archive lacks column(s) {missing}; found {list(df.columns)} (see --text-column etc.)"
        )
    report = CleaningReport(rows_read=len(df))
    df = df.copy()
    df[cols.text] = df[cols.text].fillna("").astype(str)
    report.html_entities_unescaped = int(df[cols.text].str.contains(_ENTITY).sum())
    is_rt = _retweet_flags(df, cols, report)
    report.retweets = int(is_rt.sum())
    if not keep_retweets:
        report.retweets_dropped = report.retweets
        df, is_rt = df[~is_rt], is_rt[~is_rt]
    link_only = df[cols.text].map(lambda t: bool(_LINK_ONLY.match(html.unescape(t))))
    report.empty_or_link_only_skipped = int(link_only.sum())
    df, is_rt = df[~link_only], is_rt[~link_only]
    created = parse_dates(df[cols.created_at].astype(str).str.strip(), date_format)
    bad = created.isna()
    report.bad_dates = int(bad.sum())
    report.bad_date_examples = df.loc[bad, cols.created_at].astype(str).head(5).tolist()
    if report.bad_dates:
        log.warning(
            "%d rows with unparseable dates skipped, e.g. %s", report.bad_dates, report.bad_date_examples
        )
    df, created, is_rt = df[~bad], created[~bad], is_rt[~bad]
    # A tweet posted twice (deleted and re-posted, or an exact duplicate row) counts once.
    normalised = df[cols.text].map(normalize_tweet)
    dup = normalised.duplicated()
    report.duplicates_dropped = int(dup.sum())
    out = pd.DataFrame(
        {
            "text": normalised[~dup],
            "raw_text": df.loc[~dup, cols.text],
            "created_at": created[~dup],
            "is_retweet": is_rt[~dup].astype(bool),
        }
    ).sort_values("created_at", kind="stable", ignore_index=True)
    report.rows_kept = len(out)
    return out, report
