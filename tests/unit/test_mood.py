"""Archive cleaning counts and timeline aggregation, checked against hand-computed cases."""

import pandas as pd
import pytest

from tests.conftest import ROOT
from training.archive import ArchiveError, Columns, clean_archive, parse_dates, read_archive
from training.mood import markdown_report, mood_timeline, plot_timeline

MESSY = ROOT / "tests" / "fixtures" / "messy_archive.csv"


def test_messy_archive_counts():
    tweets, report = clean_archive(read_archive(MESSY))
    assert report.rows_read == 10
    assert report.html_entities_unescaped == 1
    assert report.retweets == 2  # one flagged TRUE, one with an empty flag but "RT @"
    assert report.retweet_flag_missing == 2
    assert report.retweets_dropped == 2
    assert report.empty_or_link_only_skipped == 2
    assert report.bad_dates == 1 and report.bad_date_examples == ["not a date"]
    assert report.duplicates_dropped == 1
    assert report.rows_kept == 4 == len(tweets)
    assert tweets["text"].iloc[1] == "Great rally tonight & a wonderful crowd. Thank you!"
    assert tweets["created_at"].is_monotonic_increasing
    assert str(tweets["created_at"].dt.tz) == "UTC"


def test_keep_retweets():
    tweets, report = clean_archive(read_archive(MESSY), keep_retweets=True)
    assert report.retweets_dropped == 0
    assert tweets["is_retweet"].sum() == 2
    assert report.rows_kept == 6


def test_json_archive_and_custom_columns(tmp_path):
    path = tmp_path / "a.json"
    pd.DataFrame(
        {"body": ["good day", "bad day"], "when": ["Wed Oct 10 20:19:24 +0000 2018", "2018-10-11T08:00:00Z"]}
    ).to_json(path, orient="records")
    tweets, report = clean_archive(read_archive(path), Columns("body", "when", None))
    assert report.rows_kept == 2
    assert tweets["created_at"].dt.day.tolist() == [10, 11]


def test_missing_column_is_named():
    with pytest.raises(ArchiveError, match=r"lacks column\(s\) \['tweet'\]"):
        clean_archive(read_archive(MESSY), Columns(text="tweet"))


def test_dates_are_not_guessed():
    parsed = parse_dates(pd.Series(["1/2/2018 1:05", "2018-13-45", "yesterday", ""]))
    assert parsed.notna().tolist() == [True, False, False, False]


def _scored(rows):
    df = pd.DataFrame(rows, columns=["created_at", "label", "p_negative", "p_neutral", "p_positive"])
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
    df["text"] = "t"
    return df


def test_weekly_timeline_hand_computed():
    scored = _scored(
        [
            ("2018-01-01 10:00", "positive", 0.1, 0.1, 0.8),  # Monday, week of Jan 1
            ("2018-01-03 10:00", "negative", 0.7, 0.2, 0.1),
            ("2018-01-07 23:00", "neutral", 0.2, 0.6, 0.2),  # Sunday, same week
            ("2018-01-08 00:30", "negative", 0.9, 0.05, 0.05),  # next Monday
        ]
    )
    tl = mood_timeline(scored, "W")
    assert tl["period"].dt.strftime("%Y-%m-%d").tolist() == ["2018-01-01", "2018-01-08"]
    assert tl["n"].tolist() == [3, 1]
    assert tl["share_negative"].tolist() == pytest.approx([1 / 3, 1.0])
    assert tl["share_positive"].tolist() == pytest.approx([1 / 3, 0.0])
    # polarity = mean(P(pos) - P(neg)): week 1 (0.7 - 0.6 + 0.0) / 3
    assert tl["polarity"].tolist() == pytest.approx([0.1 / 3, -0.85])


def test_monthly_and_daily():
    scored = _scored([("2018-01-31 23:59", "positive", 0, 0, 1), ("2018-02-01 00:00", "negative", 1, 0, 0)])
    assert mood_timeline(scored, "M")["n"].tolist() == [1, 1]
    assert mood_timeline(scored, "D")["polarity"].tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match="freq"):
        mood_timeline(scored, "Y")
    with pytest.raises(ValueError, match="no scored tweets"):
        mood_timeline(scored.iloc[:0], "W")


def test_chart_and_report_files(tmp_path):
    scored = _scored(
        [(f"2018-01-{d:02d} 12:00", "positive" if d % 3 else "negative", 0.3, 0.2, 0.5) for d in range(1, 29)]
    )
    tl = mood_timeline(scored, "W")
    png = plot_timeline(tl, tmp_path / "c.png", "test", "W")
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    report = markdown_report(scored, tl, "W", "Test", {"rows_read": 28})
    assert "## Most negative week" in report and "## Most positive week" in report
    assert "- rows_read: 28" in report
