"""Mood over time: aggregate scored tweets into a timeline, chart it, and summarise it.

The same ``mood_timeline`` serves the CLI (``tweetmood analyze``) and the ``/mood`` endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from training.labels import LABELS
from training.metrics import pyplot, save_figure

Freq = Literal["D", "W", "M"]
FREQ_NAMES = {"D": "day", "W": "week", "M": "month"}
SCORE_COLUMNS = [f"p_{label}" for label in LABELS]


def polarity(df: pd.DataFrame) -> pd.Series:
    """P(positive) − P(negative), in [-1, 1]."""
    return df["p_positive"] - df["p_negative"]


def mood_timeline(scored: pd.DataFrame, freq: Freq = "W") -> pd.DataFrame:
    """Per period (labelled by its first day): tweet count, share of each label, mean polarity.

    ``scored`` needs ``created_at`` (datetime), ``label`` and the ``p_<label>`` columns.
    Periods without tweets are left out.
    """
    if freq not in FREQ_NAMES:
        raise ValueError(f"freq must be one of {sorted(FREQ_NAMES)}, not {freq!r}")
    if scored.empty:
        raise ValueError("no scored tweets to aggregate")
    created = pd.to_datetime(scored["created_at"], utc=True).dt.tz_localize(None)
    period = created.dt.to_period(freq).dt.start_time.rename("period")
    frame = scored.assign(polarity=polarity(scored))
    for label in LABELS:
        frame[f"share_{label}"] = (frame["label"] == label).astype(float)
    grouped = frame.groupby(period)
    out = grouped[[f"share_{label}" for label in LABELS] + ["polarity"]].mean()
    out.insert(0, "n", grouped.size())
    return out.reset_index()


def plot_timeline(timeline: pd.DataFrame, path: Path, title: str, freq: Freq) -> Path:
    """Stacked label shares per period, with the mean polarity as a line on a second axis."""
    import matplotlib.dates as mdates

    plt = pyplot()
    colours = {"negative": "#d62728", "neutral": "#bbbbbb", "positive": "#2ca02c"}
    fig, ax = plt.subplots(figsize=(11, 4.8))
    x = timeline["period"]
    ax.stackplot(
        x,
        *[timeline[f"share_{label}"] for label in LABELS],
        labels=[f"share {label}" for label in LABELS],
        colors=[colours[label] for label in LABELS],
        alpha=0.55,
        step="post" if freq != "D" else None,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of tweets")
    ax2 = ax.twinx()
    ax2.plot(x, timeline["polarity"], color="black", linewidth=1.8, label="mean polarity P(pos) − P(neg)")
    ax2.axhline(0, color="black", linewidth=0.6, linestyle=":")
    ax2.set_ylim(-1, 1)
    ax2.set_ylabel("mean polarity")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d" if freq == "D" else "%b %Y"))
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    names = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(handles, names, loc="upper left", fontsize=8, ncol=4)
    ax.set_title(f"{title} — per {FREQ_NAMES[freq]} (n = {int(timeline['n'].sum())} tweets)")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def _extreme_tweets(scored: pd.DataFrame, start, freq: Freq, column: str, k: int) -> list[str]:
    created = pd.to_datetime(scored["created_at"], utc=True).dt.tz_localize(None)
    in_period = created.dt.to_period(freq).dt.start_time == start
    rows = scored[in_period].nlargest(k, column)
    text_column = "raw_text" if "raw_text" in scored.columns else "text"
    return [f"- ({column} {r[column]:.2f}) {r[text_column]}" for _, r in rows.iterrows()]


def markdown_report(
    scored: pd.DataFrame, timeline: pd.DataFrame, freq: Freq, title: str, cleaning: dict, min_tweets: int = 5
) -> str:
    """Overall mix, the most negative and most positive periods and their most extreme tweets."""
    mix = scored["label"].value_counts().reindex(list(LABELS), fill_value=0)
    lines = [
        f"# {title}",
        "",
        f"{len(scored)} tweets scored, per {FREQ_NAMES[freq]}.",
        "",
        "## Overall mix",
        "",
    ]
    lines += [f"- {label}: {mix[label]} ({mix[label] / len(scored):.1%})" for label in LABELS]
    lines += ["", f"Mean polarity P(positive) − P(negative): {polarity(scored).mean():+.3f}", ""]
    eligible = timeline[timeline["n"] >= min_tweets]
    if eligible.empty:
        eligible = timeline
    for heading, row, column in (
        ("Most negative", eligible.loc[eligible["polarity"].idxmin()], "p_negative"),
        ("Most positive", eligible.loc[eligible["polarity"].idxmax()], "p_positive"),
    ):
        lines += [
            f"## {heading} {FREQ_NAMES[freq]}: {row['period']:%Y-%m-%d}",
            "",
            f"{int(row['n'])} tweets, mean polarity {row['polarity']:+.3f}, "
            f"{row['share_negative']:.0%} negative / {row['share_positive']:.0%} positive. Most extreme:",
            "",
            *_extreme_tweets(scored, row["period"], freq, column, 3),
            "",
        ]
    lines += ["## Input cleaning", ""] + [f"- {key}: {value}" for key, value in cleaning.items()]
    return "\n".join(lines) + "\n"
