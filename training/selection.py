"""Choose the production model from hyper-parameter trials, on validation only; then test it once.

Candidates are trial models (``runs:/<id>/model``) fine-tuned from the same base with the same seed,
so their weights can be averaged. The stage compares, on validation macro-recall:

- each candidate alone;
- a *greedy soup* (Wortsman et al., 2022): weights averaged over the candidates that do not lower
  validation macro-recall, best first. One model, so the same inference cost as a single model;
- a probability ensemble of all candidates: reported beside its inference cost (N forward passes),
  not servable by the Bento as one model;
- the macro-recall decision rule (logit offsets), judged **out of sample** by cross-fitting on
  validation: offsets fitted on k-1 folds, scored on the held-out fold.

A change from the best single model (the soup, the offsets) is adopted only if it gains at least
``min_gain`` (default 0.5 point; the standard error of macro-recall on 2,000 tweets is about 1 point):
a soup costs a second training run to reproduce, and the offsets once cost 1.5 test points.
The chosen single model (best candidate or soup) gets the test set once and is registered.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import torch

from training.calibrate import fit_logit_offsets
from training.config import Config
from training.data import load_splits
from training.inference import predict_logits, softmax
from training.metrics import classification_metrics, pyplot, save_figure
from training.registry import configure_mlflow, load_components

log = logging.getLogger(__name__)


@dataclass
class Scored:
    name: str
    logits: np.ndarray
    macro_recall: float


@dataclass
class Selection:
    candidates: list[Scored]
    soup_members: list[str]
    soup: Scored | None
    ensemble: Scored
    chosen: str
    offsets_oof: float
    offsets_raw: float
    use_offsets: bool
    use_soup: bool
    min_gain: float
    val: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    registered_version: str | None = None


def _score(name: str, logits: np.ndarray, labels: np.ndarray) -> Scored:
    scored = Scored(name, logits, classification_metrics(labels, logits.argmax(-1))["macro_recall"])
    log.info("validation macro-recall %.4f  %s", scored.macro_recall, name)
    return scored


def average_weights(models: list[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """Uniform average of the floating-point parameters/buffers (integer buffers from the first)."""
    states = [m.state_dict() for m in models]
    averaged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            averaged[key] = torch.stack([s[key] for s in states]).mean(0)
        else:
            averaged[key] = first.clone()
    return averaged


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold id per example; each class is spread evenly over the k folds."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=int)
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        folds[idx] = np.arange(len(idx)) % k
    return folds


def crossfit_offsets(
    logits: np.ndarray, labels: np.ndarray, k: int = 5, seed: int = 0
) -> tuple[float, float]:
    """(out-of-fold macro-recall with offsets fitted on the other folds, plain arg-max macro-recall)."""
    folds = stratified_folds(labels, k, seed)
    predictions = np.empty(len(labels), dtype=int)
    for fold in range(k):
        held_out = folds == fold
        offsets, _ = fit_logit_offsets(logits[~held_out], labels[~held_out])
        predictions[held_out] = (logits[held_out] + offsets).argmax(-1)
    oof = classification_metrics(labels, predictions)["macro_recall"]
    raw = classification_metrics(labels, logits.argmax(-1))["macro_recall"]
    return oof, raw


def soup_model(models: list, members: list[int]):
    """A copy of the first member whose weights are the average of ``members``."""
    model = copy.deepcopy(models[members[0]])
    model.load_state_dict(average_weights([models[j] for j in members]))
    return model.eval()


def greedy_soup(
    models: list, scored: list[Scored], predict, labels: np.ndarray
) -> tuple[list[int], Scored | None]:
    """Add candidates best-first while the averaged weights keep validation macro-recall from falling.

    Returns the member indices and the soup's score (None when no second member helped).
    """
    order = sorted(range(len(models)), key=lambda i: -scored[i].macro_recall)
    members, best, soup = [order[0]], scored[order[0]].macro_recall, None
    for i in order[1:]:
        names = " + ".join(scored[j].name for j in [*members, i])
        trial = _score(f"soup({names})", predict(soup_model(models, [*members, i])), labels)
        if trial.macro_recall >= best:
            members, best, soup = [*members, i], trial.macro_recall, trial
    return members, soup


def _plot(selection: Selection, path: Path) -> Path:
    plt = pyplot()
    rows = [(c.name, c.macro_recall, "single model") for c in selection.candidates]
    if selection.soup:
        rows.append((selection.soup.name, selection.soup.macro_recall, "soup (1x cost)"))
    ensemble = selection.ensemble
    rows.append((ensemble.name, ensemble.macro_recall, f"ensemble ({len(selection.candidates)}x cost)"))
    rows.append(
        (f"{selection.chosen} + offsets, out of fold", selection.offsets_oof, "decision rule, cross-fitted")
    )
    colours = {
        "single model": "#4c72b0",
        "soup (1x cost)": "#55a868",
        "decision rule, cross-fitted": "#c44e52",
    }
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.4))
    for y, (_, score, kind) in enumerate(rows):
        ax.barh(y, 100 * score, color=colours.get(kind, "#8172b2"), label=kind)
        ax.text(100 * score + 0.1, y, f"{100 * score:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0][:60] for r in rows], fontsize=8)
    lows = [100 * r[1] for r in rows]
    ax.set_xlim(min(lows) - 2, max(lows) + 1.5)
    ax.set_xlabel("validation macro-recall (%)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(f"Model selection on validation; chosen: {selection.chosen[:60]}", fontsize=9)
    return save_figure(fig, path)


def _plot_curves(selection: Selection, uris: list[str], path: Path) -> Path | None:
    """Validation macro-recall during training, one line per candidate run (from its MLflow history)."""
    plt = pyplot()
    client = mlflow.MlflowClient()
    fig, ax = plt.subplots(figsize=(7, 4))
    plotted = 0
    for candidate, uri in zip(selection.candidates, uris, strict=True):
        if (run_id := _run_id(uri)) is None:
            continue
        history = client.get_metric_history(run_id, "val_macro_recall")
        # In-training evaluations only: the final one (the best checkpoint) is logged again at the
        # last step, later; the first value logged at each step is the curve's.
        first = {}
        for m in sorted(history, key=lambda m: m.timestamp):
            first.setdefault(m.step, 100 * m.value)
        points = sorted((step, value) for step, value in first.items() if step > 0)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=candidate.name)
            plotted += 1
    if not plotted:
        plt.close(fig)
        return None
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("validation macro-recall (%)")
    ax.set_title("Trials: validation macro-recall during training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _log_selection(selection: Selection, uris: list[str], out_dir: Path) -> None:
    mlflow.set_tag("selection", "true")
    mlflow.log_params({f"candidate.{c.name}": uri for c, uri in zip(selection.candidates, uris, strict=True)})
    mlflow.log_params(
        {
            "soup_members": ",".join(selection.soup_members),
            "chosen": selection.chosen,
            "decision_rule": "logit offsets" if selection.use_offsets else "arg-max",
        }
    )
    for c in selection.candidates:
        mlflow.log_metric(f"candidate_val_macro_recall.{c.name}", c.macro_recall)
    if selection.soup:
        mlflow.log_metric("soup_val_macro_recall", selection.soup.macro_recall)
    mlflow.log_metrics(
        {
            "ensemble_val_macro_recall": selection.ensemble.macro_recall,
            "ensemble_inference_cost_x": float(len(selection.candidates)),
            "offsets_oof_val_macro_recall": selection.offsets_oof,
            "offsets_raw_val_macro_recall": selection.offsets_raw,
        }
    )
    mlflow.log_artifact(str(_plot(selection, out_dir / "selection.png")), "selection")
    curves = _plot_curves(selection, uris, out_dir / "val_curves.png")
    if curves:
        mlflow.log_artifact(str(curves), "selection")


def _run_id(uri: str) -> str | None:
    """The run id of a ``runs:/<id>/...`` URI; None for other URIs (``models:/...``, paths)."""
    return uri.split("/")[1] if uri.startswith("runs:/") else None


def _candidate_name(uri: str) -> str:
    """The MLflow run name for ``runs:/<id>/...`` URIs, else the URI itself."""
    if (run_id := _run_id(uri)) is not None:
        try:
            return mlflow.get_run(run_id).info.run_name or uri
        except mlflow.exceptions.MlflowException:
            return uri
    return uri


def _choose(models, candidates, predict, labels, folds: int, seed: int, min_gain: float):
    members, soup = greedy_soup(models, candidates, predict, labels) if len(models) > 1 else ([0], None)
    probabilities = np.mean([softmax(c.logits) for c in candidates], axis=0)
    ensemble = _score(f"ensemble of {len(candidates)}", np.log(probabilities), labels)
    best = candidates[members[0]]
    # A soup needs a second training run to reproduce: it must earn min_gain over the best single model.
    use_soup = soup is not None and soup.macro_recall >= best.macro_recall + min_gain
    chosen = soup if use_soup else best
    oof, raw = crossfit_offsets(chosen.logits, labels, folds, seed)
    log.info("decision rule, %d-fold cross-fitted on validation: %.4f vs arg-max %.4f", folds, oof, raw)
    selection = Selection(
        candidates=candidates,
        soup_members=[candidates[j].name for j in members],
        soup=soup,
        ensemble=ensemble,
        chosen=chosen.name,
        offsets_oof=oof,
        offsets_raw=raw,
        use_offsets=oof >= raw + min_gain,
        use_soup=use_soup,
        min_gain=min_gain,
    )
    model = soup_model(models, members) if use_soup else models[members[0]]
    return selection, model


def _provenance(selection: Selection) -> str:
    rule = (
        f"logit offsets (cross-fitted on validation: {selection.offsets_oof:.4f} vs arg-max "
        f"{selection.offsets_raw:.4f})"
        if selection.use_offsets
        else f"arg-max (offsets, cross-fitted on validation: {selection.offsets_oof:.4f} vs arg-max "
        f"{selection.offsets_raw:.4f}, less than the {selection.min_gain} needed)"
    )
    if selection.use_soup:
        made = f"weight average (greedy soup) of trial runs {', '.join(selection.soup_members)}"
    else:
        made = f"trial run {selection.chosen}"
    return f"{made}, chosen on validation macro-recall; decision rule: {rule}."


def select_model(
    cfg: Config,
    model_uris: list[str],
    evaluate_test: bool = False,
    folds: int = 5,
    min_gain: float = 0.005,
) -> Selection:
    """Validation-only choice among trial models (see the module doc); with ``evaluate_test``, the
    chosen model is evaluated on test once and registered, in one MLflow run."""
    from training.train import _log_run_inputs, evaluate_and_register

    datasets, report = load_splits(cfg.data, seed=cfg.train.seed)
    configure_mlflow(cfg.mlflow)
    val = datasets["validation"]
    labels, texts = np.asarray(val["label"]), list(val["text"])
    loaded = [load_components(uri) for uri in model_uris]
    models, tokenizer = [m for m, _ in loaded], loaded[0][1]

    def predict(model) -> np.ndarray:
        return predict_logits(model, tokenizer, texts, cfg.train.eval_batch_size, cfg.model.max_length, True)

    candidates = [
        _score(_candidate_name(u), predict(m), labels) for u, m in zip(model_uris, models, strict=True)
    ]
    selection, model = _choose(models, candidates, predict, labels, folds, cfg.train.seed, min_gain)
    with (
        mlflow.start_run(run_name=f"{cfg.run_name or 'run'}-selection"),
        tempfile.TemporaryDirectory() as tmp,
    ):
        _log_run_inputs(cfg, report)
        _log_selection(selection, model_uris, Path(tmp))
        if evaluate_test:
            selection.val, selection.test, _, selection.registered_version, _ = evaluate_and_register(
                cfg, model, tokenizer, datasets, report, selection.use_offsets, _provenance(selection)
            )
    return selection
