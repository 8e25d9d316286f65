"""Data tier: the data directory in use, and the loader's validation and counting."""

import csv

import pytest

from tests.conftest import real_data_dir
from training.config import DataConfig
from training.data import DataError, load_splits
from training.labels import LABELS

needs_real_data = pytest.mark.skipif(
    not (real_data_dir() / "train.csv").is_file(), reason=f"no data directory at {real_data_dir()}"
)


@needs_real_data
@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_real_split_schema(split):
    with open(real_data_dir() / f"{split}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"text", "label"} <= set(rows[0])
    assert {r["label"] for r in rows} == set(LABELS)
    assert all(r["text"] is not None for r in rows)


@needs_real_data
def test_real_data_loads_clean():
    datasets, report = load_splits(DataConfig(dir=real_data_dir()))
    for split in ("train", "validation", "test"):
        rep = report.splits[split]
        assert rep.empty_dropped == 0, split
        assert rep.rows_kept == len(datasets[split]) > 0
        assert set(datasets[split]["label"]) == {0, 1, 2}
    # Train is de-duplicated and disjoint from the evaluation splits (the data README's promise).
    assert report.splits["train"].duplicates_dropped == 0
    assert report.splits["train"].overlap_dropped == 0
    # Evaluation splits keep the official benchmark rows; duplicates are only counted.
    assert report.splits["test"].rows_kept == report.splits["test"].rows_read


def _write(dir_, name, rows, header=("text", "label")):
    with open(dir_ / name, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _valid_eval_files(dir_):
    _write(dir_, "validation.csv", [("good", "positive"), ("bad", "negative"), ("ok", "neutral")])
    _write(dir_, "test.csv", [("great", "positive"), ("awful", "negative"), ("meh", "neutral")])


def test_missing_column_names_the_file(tmp_path):
    _valid_eval_files(tmp_path)
    _write(tmp_path, "train.csv", [("hi", "x")], header=("tweet", "label"))
    with pytest.raises(DataError, match=r"train\.csv: missing column\(s\) \['text'\]"):
        load_splits(DataConfig(dir=tmp_path))


def test_unknown_label_names_file_and_row(tmp_path):
    _valid_eval_files(tmp_path)
    _write(tmp_path, "train.csv", [("a", "positive"), ("b", "postive")])
    with pytest.raises(DataError, match=r"train\.csv row 2: unknown label 'postive'"):
        load_splits(DataConfig(dir=tmp_path))


def test_missing_file(tmp_path):
    _valid_eval_files(tmp_path)
    with pytest.raises(DataError, match="missing data file"):
        load_splits(DataConfig(dir=tmp_path))


def test_empty_duplicate_and_overlap_rows_are_counted(tmp_path):
    _valid_eval_files(tmp_path)
    rows = [
        ("Love it @Bob", "positive"),
        ("love it   @alice", "positive"),  # same text after normalisation? no: case differs
        ("Love it @Carol", "positive"),  # duplicate of row 1 after mention masking
        ("", "neutral"),
        ("   ", "neutral"),
        ("https://t.co/abc", "neutral"),  # a link alone is kept: it normalises to "http"
        ("great", "positive"),  # also in test.csv
        ("NA", "Negative"),  # the text "NA" is text; labels are case-insensitive
    ]
    _write(tmp_path, "train.csv", rows)
    datasets, report = load_splits(DataConfig(dir=tmp_path))
    rep = report.splits["train"]
    assert (rep.rows_read, rep.empty_dropped, rep.duplicates_dropped, rep.overlap_dropped) == (8, 2, 1, 1)
    assert rep.rows_kept == 4
    assert list(datasets["train"]["text"]) == ["Love it @user", "love it @user", "http", "NA"]
    assert rep.label_counts == {"negative": 1, "neutral": 1, "positive": 2}


def test_max_train_samples(fixture_data_dir):
    datasets, report = load_splits(DataConfig(dir=fixture_data_dir, max_train_samples=10))
    assert len(datasets["train"]) == 10
    assert report.splits["train"].subsampled_to == 10
    assert sum(report.splits["train"].label_counts.values()) == 10
