"""The model card: written into the MLflow registry description of each version and carried into
the BentoML model's metadata by the import step."""

from __future__ import annotations

from training.config import Config
from training.data import DataReport
from training.labels import LABELS

LIMITATIONS = """\
- Sarcasm and irony are often read literally ("great, another delay").
- Domain shift: trained on SemEval 2013–2016 tweets from many authors; one politician's tweets (the demo)
  differ in topic and style. Treat per-week moves of a few points as noise.
- The test set is more negative than train (32 % vs 16 % negative). The optional decision rule (logit
  offsets) is fitted on validation, whose mix matches train, so it can over- or under-shoot on a set
  mixed differently; it also shifts the probabilities.
- Validation shares train's source (SemEval 2013–2016) and overstates quality on later tweets: compare
  the validation and test figures above, and trust test.
- English only; text is truncated to the configured max length."""


def render_model_card(
    cfg: Config,
    report: DataReport,
    val: dict,
    test: dict,
    fit_offsets: bool,
    provenance: str | None = None,
) -> str:
    """Markdown card; ``provenance`` says how the weights were made when not by one training run."""
    train, val_rows, test_rows = (report.splits[s] for s in ("train", "validation", "test"))
    per_class = ", ".join(f"{label} {test[f'{label}_recall']:.3f}" for label in LABELS)
    selects = "selects the checkpoint" + (" and fits the decision rule" if fit_offsets else "")
    lines = [
        "# tweet-mood — tweet sentiment (negative / neutral / positive)",
        "",
        f"**Model**: DistilBERT-architecture sequence classifier, base `{cfg.model.base}`, "
        f"max length {cfg.model.max_length}.",
        *([f"**Made by**: {provenance}"] if provenance else []),
        f"**Data**: TweetEval sentiment (SemEval-2017 Task 4A): {train.rows_kept} training tweets "
        f"(sha256 {train.sha256[:12]}…), validation {val_rows.rows_kept}, test {test_rows.rows_kept}.",
        "**Intended use**: the aggregate mood of many tweets (e.g. one author over time); not decisions "
        "about individual people.",
        "",
        "## Metrics (official: macro-averaged recall)",
        f"- validation macro-recall {val['macro_recall']:.4f} ({selects})",
        f"- test macro-recall {test['macro_recall']:.4f}, macro-F1 {test['macro_f1']:.4f}, "
        f"accuracy {test['accuracy']:.4f}",
        f"- test recall per class: {per_class}",
        "",
        "## Limitations",
        LIMITATIONS,
    ]
    return "\n".join(lines) + "\n"
