import numpy as np
import pytest

from training.metrics import (
    classification_metrics,
    classification_report,
    confusion_matrix,
    plot_confusion_matrix,
)


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_hand_computed_case():
    # true:  neg neg neg neu neu pos pos pos pos
    # pred:  neg neg neu neu pos pos pos neg pos
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 1, 2, 2, 2, 0, 2]
    m = classification_metrics(y_true, y_pred)
    # recalls: neg 2/3, neu 1/2, pos 3/4
    assert m["negative_recall"] == pytest.approx(2 / 3)
    assert m["neutral_recall"] == pytest.approx(1 / 2)
    assert m["positive_recall"] == pytest.approx(3 / 4)
    assert m["macro_recall"] == pytest.approx((2 / 3 + 1 / 2 + 3 / 4) / 3)
    # precisions: neg 2/3, neu 1/2, pos 3/4 -> f1 equals recall per class here
    assert m["negative_precision"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 3 / 4) / 3)
    assert m["accuracy"] == pytest.approx(6 / 9)
    assert m["positive_support"] == 4


def test_macro_recall_weighs_classes_equally():
    # Always predicting the majority class: accuracy is high, macro-recall is 1/3.
    y_true = [1] * 98 + [0, 2]
    m = classification_metrics(y_true, [1] * 100)
    assert m["accuracy"] == pytest.approx(0.98)
    assert m["macro_recall"] == pytest.approx(1 / 3)
    assert m["negative_precision"] == 0.0  # nothing predicted: 0, not NaN


def test_report_and_plot(tmp_path):
    m = classification_metrics([0, 1, 2], [0, 1, 1])
    assert "macro-recall (official) 0.6667" in classification_report(m)
    png = plot_confusion_matrix(np.array([[5, 1, 0], [2, 7, 1], [0, 1, 9]]), tmp_path / "cm.png", "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
