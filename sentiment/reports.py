"""Evaluation reports (``sentiment evaluate --report DIR``) and forecast output (``sentiment
forecast predict -o FILE --plot PNG``).

:func:`write_report` writes into one directory:

* ``metrics.json``: accuracy, precision/recall/F1 per class and macro, ROC-AUC, log loss,
  expected calibration error (10 bins), the confusion matrix and the reliability bins;
* ``confusion_matrix.png``, ``roc.png`` and ``calibration.png`` (a reliability diagram),
  drawn with matplotlib (the optional extra ``pip install 'sentiment[plot]'``);
* ``errors.csv``: the misclassified rows with their scores, worst first (lowest probability
  given to the true class first).

A forecast is written as CSV (:func:`write_forecast_csv`) and drawn with its history
(:func:`plot_forecast`). matplotlib is imported only here, with the non-interactive Agg
backend.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .artifacts import check_not_inside, check_not_input, check_writable
from .calibration import ECE_BINS, apply_temperature
from .config import INFERENCE_BATCH_SIZE
from .errors import ConfigError, DataError
from .metrics import (
    binary_log_loss,
    calibration_bins,
    classification_report,
    expected_calibration_error,
    log_loss,
    multilabel_calibration_bins,
    multilabel_calibration_error,
    roc_auc,
    roc_curve,
)

if TYPE_CHECKING:
    from .forecaster import Forecast

#: Bins of the reliability diagram and of the expected calibration error.
CALIBRATION_BINS = ECE_BINS  # 10 equal-width bins
REPORT_FILES = ("metrics.json", "confusion_matrix.png", "roc.png", "calibration.png",
                "errors.csv")
#: A multi-label model's report (:func:`write_multilabel_report`).
MULTILABEL_REPORT_FILES = ("metrics.json", "per_label_f1.png", "calibration.png", "errors.csv")


def require_matplotlib(feature: str = "--report"):
    """``matplotlib.pyplot`` with the Agg backend.

    Raises:
        ConfigError: when matplotlib is not installed (the message names ``feature`` and says
            how to install it).
    """
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(f"{feature} draws its plots with matplotlib, which is not installed; "
                          "pip install 'sentiment[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_report_paths(directory: str | Path, source: str | Path | None = None,
                       model_dir: str | Path | None = None) -> None:
    """Check, before any work, that the report files can be written into ``directory``:
    it can be created or written to, none of the file names is taken by a directory, none is
    the input file ``source`` (under any spelling, symbolic or hard link), and ``directory``
    is not the model directory ``model_dir`` or inside it.

    Raises:
        ConfigError: naming the path and the problem.
    """
    directory = Path(directory).expanduser()
    shown = repr(str(directory))
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"report {shown} is a file, not a directory")
    check_writable(directory, shown)
    if model_dir is not None:
        check_not_inside(directory, model_dir)
    for name in dict.fromkeys(REPORT_FILES + MULTILABEL_REPORT_FILES):
        if (directory / name).is_dir():
            raise ConfigError(f"report {shown}: {directory / name} is a directory; the report "
                              f"writes a file {name} there")
        if source is not None:
            check_not_input(directory / name, source)


def _json_number(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _calibration_bins(y_true: np.ndarray, probabilities: np.ndarray,
                      multi_label: bool = False) -> dict:
    """The reliability bins of ``metrics.json``: of the top-class confidence, or of every
    (row, label) cell of a multi-label model."""
    bins = (multilabel_calibration_bins if multi_label else calibration_bins)(
        y_true, probabilities, CALIBRATION_BINS)
    return {"bins": CALIBRATION_BINS,
            "edges": bins["edges"].tolist(),
            "count": bins["count"].tolist(),
            "confidence": [_json_number(v) for v in bins["confidence"]],
            "accuracy": [_json_number(v) for v in bins["accuracy"]]}


def report_metrics(y_true: Sequence[int], probabilities: np.ndarray,
                   labels: Sequence[str], temperature: float = 1.0,
                   uncalibrated: np.ndarray | None = None, rule=None) -> dict:
    """Everything in ``metrics.json``: :func:`sentiment.metrics.classification_report` plus
    ``log_loss`` (nats), ``expected_calibration_error`` (10 equal-width bins of the top-class
    confidence), ``calibration`` (the bins) and, for more than two classes, one-vs-rest
    ``roc_auc_per_class`` and their mean as ``roc_auc``. For a calibrated model
    (``temperature`` other than 1) also ``temperature`` and ``uncalibrated``: the log loss,
    ECE and bins of the probabilities before temperature scaling.

    Args:
        y_true: ``(n,)`` int class indices into ``labels``.
        probabilities: ``(n, len(labels))`` float class probabilities (calibrated, as the
            model predicts them).
        labels: class names.
        temperature: the model's temperature (``ClassifierConfig.temperature``).
        uncalibrated: the model's probabilities before scaling, ``(n, len(labels))``;
            default: ``probabilities`` scaled back by ``1 / temperature`` (which loses
            probabilities below about ``1e-12 ** temperature``).
        rule: the :class:`sentiment.decisions.DecisionRule` that chooses the labels (a
            two-class threshold, abstention: :func:`sentiment.evaluation.decision_report`);
            default the argmax.

    Raises:
        DataError: when there are no rows or the shapes disagree.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.size == 0:
        raise DataError("no rows to evaluate")
    if probabilities.shape != (y_true.size, len(labels)):
        raise DataError(f"probabilities have shape {probabilities.shape}; expected "
                        f"({y_true.size}, {len(labels)})")
    if rule is None:
        report = classification_report(y_true, probabilities, labels)
    else:
        from .evaluation import decision_report

        report = decision_report(rule, y_true, probabilities)
    report["log_loss"] = log_loss(y_true, probabilities)
    report["expected_calibration_error"] = expected_calibration_error(
        y_true, probabilities, CALIBRATION_BINS)
    report["calibration"] = _calibration_bins(y_true, probabilities)
    if temperature != 1.0:
        before = (apply_temperature(probabilities, 1.0 / temperature)  # undo the scaling
                  if uncalibrated is None else np.asarray(uncalibrated, dtype=np.float64))
        report["temperature"] = temperature
        report["uncalibrated"] = {
            "log_loss": log_loss(y_true, before),
            "expected_calibration_error": expected_calibration_error(y_true, before,
                                                                     CALIBRATION_BINS),
            "calibration": _calibration_bins(y_true, before)}
    if len(labels) > 2:
        per_class = {label: roc_auc(y_true == k, probabilities[:, k])
                     for k, label in enumerate(labels)}
        report["roc_auc_per_class"] = per_class
        defined = [v for v in per_class.values() if v is not None]
        report["roc_auc"] = float(np.mean(defined)) if defined else None
    return report


def _plot_confusion(plt, matrix: np.ndarray, labels: Sequence[str], path: Path) -> None:
    matrix = np.asarray(matrix)
    size = max(4.0, 1.0 + 0.8 * len(labels))
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(len(labels)), labels=labels, rotation=45 if len(labels) > 4 else 0)
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title("Confusion matrix")
    threshold = matrix.max() / 2 if matrix.size else 0
    totals = matrix.sum(axis=1, keepdims=True)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            share = matrix[i, j] / totals[i, 0] if totals[i, 0] else 0.0
            axes.text(j, i, f"{matrix[i, j]:,}\n{share:.1%}", ha="center", va="center",
                      color="white" if matrix[i, j] > threshold else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _plot_roc(plt, y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str],
              path: Path) -> None:
    figure, axes = plt.subplots(figsize=(5.5, 5))
    if len(labels) == 2:
        curves = [(labels[1], y_true == 1, probabilities[:, 1])]
    else:
        curves = [(f"{label} vs rest", y_true == k, probabilities[:, k])
                  for k, label in enumerate(labels)]
    for name, positives, scores in curves:
        fpr, tpr, _ = roc_curve(positives, scores)
        auc = roc_auc(positives, scores)
        if auc is None:
            continue
        axes.plot(fpr, tpr, lw=2, label=f"{name} (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC curve" + (f" (positive class: {labels[1]})" if len(labels) == 2 else ""))
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _plot_calibration(plt, metrics: dict, path: Path, multi_label: bool = False) -> None:
    calibration = metrics["calibration"]
    edges = np.asarray(calibration["edges"])
    width = edges[1] - edges[0]
    centers = edges[:-1] + width / 2
    accuracy = np.array([np.nan if v is None else v for v in calibration["accuracy"]])
    confidence = np.array([np.nan if v is None else v for v in calibration["confidence"]])
    count = np.asarray(calibration["count"])
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    filled = count > 0
    observed = "share with the label" if multi_label else "accuracy"
    top.bar(centers[filled], accuracy[filled], width=width * 0.9, color="tab:blue",
            edgecolor="black", label=observed)
    top.bar(centers[filled], confidence[filled] - accuracy[filled], bottom=accuracy[filled],
            width=width * 0.9, color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//",
            label="gap to confidence")
    top.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect calibration")
    title = f"Reliability diagram (ECE {metrics['expected_calibration_error']:.3f})"
    if "uncalibrated" in metrics:  # before temperature scaling: accuracy per bin, as a line
        before = metrics["uncalibrated"]
        accuracy_before = np.array([np.nan if v is None else v
                                    for v in before["calibration"]["accuracy"]])
        confidence_before = np.array([np.nan if v is None else v
                                      for v in before["calibration"]["confidence"]])
        top.plot(confidence_before, accuracy_before, marker="o", color="tab:orange",
                 label=f"before temperature scaling (T = {metrics['temperature']:.2f})")
        title = (f"Reliability diagram (ECE {metrics['expected_calibration_error']:.3f}; "
                 f"{before['expected_calibration_error']:.3f} before scaling)")
    top.set_ylim(0, 1)
    top.set_ylabel(observed)
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.bar(centers, count, width=width * 0.9, color="grey", edgecolor="black")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("probability of each label" if multi_label
                      else "confidence (probability of the predicted class)")
    bottom.set_ylabel("(row, label) cells" if multi_label else "rows")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _write_metrics(directory: Path, metrics: dict) -> None:
    """``metrics.json`` of a report (indented JSON)."""
    with open(directory / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2)
        handle.write("\n")


def _write_errors(path: Path, texts: Sequence[str], raw_labels: Sequence[str] | None,
                  y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str],
                  rule=None) -> int:
    predicted = probabilities.argmax(axis=1) if rule is None else rule.choose(probabilities)
    wrong = np.flatnonzero(predicted != y_true)
    true_probability = probabilities[np.arange(len(y_true)), y_true]
    # worst first: least probability on the true class; ties keep file order
    wrong = wrong[np.argsort(true_probability[wrong], kind="stable")]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "text", "label", "predicted_label", "predicted_score",
                         "true_label_score", *(f"prob_{label}" for label in labels)])
        for i in wrong.tolist():
            writer.writerow([i + 1, texts[i],
                             raw_labels[i] if raw_labels is not None else labels[y_true[i]],
                             labels[predicted[i]], f"{probabilities[i, predicted[i]]:.6g}",
                             f"{true_probability[i]:.6g}",
                             *(f"{p:.6g}" for p in probabilities[i])])
    return int(wrong.size)


def write_report(directory: str | Path, texts: Sequence[str], y_true: Sequence[int],
                 probabilities: np.ndarray, labels: Sequence[str],
                 raw_labels: Sequence[str] | None = None, source: str | None = None,
                 temperature: float = 1.0, uncalibrated: np.ndarray | None = None,
                 rule=None) -> dict:
    """Write ``metrics.json``, the three PNGs and ``errors.csv`` into ``directory``.

    Args:
        directory: created if absent; existing report files are replaced.
        texts: the ``n`` texts, for ``errors.csv``.
        y_true: ``(n,)`` int true class indices into ``labels``.
        probabilities: ``(n, len(labels))`` float class probabilities.
        labels: class names, in column order.
        raw_labels: the label values as in the data (``errors.csv`` column ``label``);
            default the class names.
        source: where the rows came from, recorded in ``metrics.json``.
        temperature: the model's temperature: other than 1, the metrics and the reliability
            diagram also show the probabilities before temperature scaling
            (``uncalibrated``, as :func:`report_metrics` takes them).
        rule: the decision rule choosing the labels (:func:`report_metrics`).

    Returns:
        The metrics (as in ``metrics.json``).

    Raises:
        ConfigError: when matplotlib is missing, or a report file would replace the input
            file ``source`` (both checked before anything is written).
        DataError: when there are no rows.
    """
    plt = require_matplotlib()
    directory = Path(directory).expanduser()
    check_report_paths(directory, source)
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    metrics = report_metrics(y_true, probabilities, labels, temperature, uncalibrated, rule)
    if source is not None:
        metrics["source"] = source
    directory.mkdir(parents=True, exist_ok=True)
    metrics["misclassified"] = _write_errors(directory / "errors.csv", texts, raw_labels, y_true,
                                             probabilities, labels, rule)
    _plot_confusion(plt, np.asarray(metrics["confusion_matrix"]), labels,
                    directory / "confusion_matrix.png")
    _plot_roc(plt, y_true, probabilities, labels, directory / "roc.png")
    _plot_calibration(plt, metrics, directory / "calibration.png")
    _write_metrics(directory, metrics)
    return metrics


def _plot_label_f1(plt, metrics: dict, path: Path) -> None:
    labels = metrics["labels"]
    rows = metrics["per_label"]
    order = sorted(labels, key=lambda name: rows[name]["f1"])
    figure, axes = plt.subplots(figsize=(6.5, max(3.0, 0.28 * len(labels) + 1.2)))
    axes.barh(range(len(order)), [rows[name]["f1"] for name in order], color="tab:blue")
    axes.set_yticks(range(len(order)),
                    labels=[f"{name} ({rows[name]['support']})" for name in order])
    axes.axvline(metrics["macro_f1"], color="tab:red", ls="--",
                 label=f"macro F1 {metrics['macro_f1']:.3f}")
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1 at the label's threshold (support in brackets)")
    axes.set_title(f"Per-label F1 (micro F1 {metrics['micro_f1']:.3f})")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _write_multilabel_errors(path: Path, texts: Sequence[str], y_true: np.ndarray,
                             predicted: np.ndarray, probabilities: np.ndarray,
                             labels: Sequence[str]) -> int:
    """The rows whose predicted label set is not the true one, most wrong cells first."""
    wrong_cells = (predicted != (y_true > 0)).sum(axis=1)
    wrong = np.flatnonzero(wrong_cells)
    wrong = wrong[np.argsort(-wrong_cells[wrong], kind="stable")]

    def names(row):
        return ",".join(label for label, on in zip(labels, row) if on)

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "text", "labels", "predicted_labels", "missed", "extra",
                         *(f"prob_{label}" for label in labels)])
        for i in wrong.tolist():
            truth, given = y_true[i] > 0, predicted[i]
            writer.writerow([i + 1, texts[i], names(truth), names(given),
                             names(truth & ~given), names(given & ~truth),
                             *(f"{p:.6g}" for p in probabilities[i])])
    return int(wrong.size)


def write_multilabel_report(directory: str | Path, texts: Sequence[str], y_true: np.ndarray,
                            probabilities: np.ndarray, rule, source: str | None = None, temperature: float = 1.0,
                            uncalibrated: np.ndarray | None = None) -> dict:
    """A multi-label model's report: ``metrics.json`` (:func:`sentiment.evaluation.
    decision_report`: micro / macro F1, per-label figures and thresholds, Hamming loss, subset
    accuracy, macro ROC-AUC; with the binary log loss, the label-wise ECE and its bins, before
    temperature scaling too under ``uncalibrated``), ``per_label_f1.png``, ``calibration.png``
    (over every (row, label) cell) and ``errors.csv`` (rows whose label set is wrong: the
    labels missed and the extra ones).

    Args:
        directory: created if absent; existing report files are replaced.
        texts: the ``n`` texts.
        y_true: ``(n, labels)`` multi-hot.
        probabilities: ``(n, labels)`` float, as the model predicts them (calibrated).
        rule: the model's :class:`sentiment.decisions.DecisionRule` (its thresholds).
        source: where the rows came from, recorded in ``metrics.json``.
        temperature, uncalibrated: the model's temperature and its probabilities before
            scaling, ``(n, labels)``.

    Raises:
        ConfigError: when matplotlib is missing or a report file would replace ``source``.
        DataError: when there are no rows.
    """
    from .evaluation import decision_report

    plt = require_matplotlib()
    directory = Path(directory).expanduser()
    check_report_paths(directory, source)
    y_true = np.asarray(y_true, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.shape[0] == 0:
        raise DataError("no rows to evaluate")
    metrics = decision_report(rule, y_true, probabilities)
    metrics["log_loss"] = binary_log_loss(y_true, probabilities)
    metrics["expected_calibration_error"] = multilabel_calibration_error(
        y_true, probabilities, CALIBRATION_BINS)
    metrics["calibration"] = _calibration_bins(y_true, probabilities, multi_label=True)
    if temperature != 1.0 and uncalibrated is not None:
        metrics["temperature"] = temperature
        metrics["uncalibrated"] = {
            "log_loss": binary_log_loss(y_true, uncalibrated),
            "expected_calibration_error": multilabel_calibration_error(
                y_true, uncalibrated, CALIBRATION_BINS),
            "calibration": _calibration_bins(y_true, uncalibrated, multi_label=True)}
    if source is not None:
        metrics["source"] = source
    directory.mkdir(parents=True, exist_ok=True)
    metrics["misclassified"] = _write_multilabel_errors(
        directory / "errors.csv", texts, y_true, rule.label_sets(probabilities), probabilities,
        rule.labels)
    _plot_label_f1(plt, metrics, directory / "per_label_f1.png")
    _plot_calibration(plt, metrics, directory / "calibration.png", multi_label=True)
    _write_metrics(directory, metrics)
    return metrics


def evaluate_with_report(predictor, data, directory: str | Path,
                         batch_size: int = INFERENCE_BATCH_SIZE) -> dict:
    """Evaluate ``predictor`` on ``data`` (:class:`sentiment.data.LabelledTexts`) and write the
    report files into ``directory`` (see :func:`write_report`).

    Returns:
        The metrics, a superset of :func:`sentiment.evaluation.evaluate_predictor`'s report.

    A multi-label model's report is :func:`write_multilabel_report`'s.

    Raises:
        ConfigError: when matplotlib is missing (before the model runs).
        DataError: when ``data`` is empty or holds a label the model does not know.
    """
    from .evaluation import true_labels

    require_matplotlib()
    if len(data) == 0:
        raise DataError(f"{data.source}: no rows to evaluate")
    y_true = true_labels(data, predictor.config)
    temperature = float(getattr(predictor.config, "temperature", 1.0))
    if temperature != 1.0:  # one pass: the model's own probabilities, then scaled
        raw = predictor.predict_proba(data.texts, batch_size=batch_size, calibrated=False)
        probabilities = apply_temperature(raw, temperature, multi_label=predictor.multi_label)
    else:
        raw = None
        probabilities = predictor.predict_proba(data.texts, batch_size=batch_size)
    if predictor.multi_label:
        return write_multilabel_report(directory, data.texts, y_true, probabilities,
                                       predictor.decision, source=data.source,
                                       temperature=temperature, uncalibrated=raw)
    return write_report(directory, data.texts, y_true, probabilities, predictor.labels,
                        raw_labels=data.labels, source=data.source,
                        temperature=temperature, uncalibrated=raw, rule=predictor.decision)


# ----------------------------------------------------------------------------- forecasts


def format_timestamp(stamp: np.datetime64) -> str:
    """``2016-07-01 13:00:00``, or ``2016-07-01`` at midnight of a daily or coarser series."""
    return str(np.datetime64(stamp, "s")).replace("T", " ")


def write_forecast_csv(forecast: Forecast, path: str | Path | None = None,
                       date_column: str = "date") -> str:
    """The forecast as CSV text (timestamp column, then one column per target, original
    units); also written to ``path`` when given. Returns the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    daily = (forecast.timestamps is not None and len(forecast.timestamps)
             and not np.any((forecast.timestamps.astype(np.int64)) % 86400))
    header = ([date_column] if forecast.timestamps is not None else ["step"]) \
        + list(forecast.columns)
    writer.writerow(header)
    for i, row in enumerate(forecast.values):
        if forecast.timestamps is None:
            key = str(i + 1)
        elif daily:
            key = str(forecast.timestamps[i].astype("datetime64[D]"))
        else:
            key = format_timestamp(forecast.timestamps[i])
        writer.writerow([key] + [f"{float(v):.6g}" for v in row])
    text = buffer.getvalue()
    if path is not None:
        Path(path).expanduser().write_text(text, encoding="utf-8")
    return text


def plot_forecast(forecast: Forecast, path: str | Path, title: str | None = None) -> None:
    """Save a PNG with one panel per target: the history (solid) and the forecast (dashed).

    Raises:
        ConfigError: when matplotlib is not installed (``pip install 'sentiment[plot]'``).
    """
    plt = require_matplotlib("plot_forecast")
    n = len(forecast.columns)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n + 0.6), sharex=True, squeeze=False)
    history_x = (forecast.history_timestamps if forecast.history_timestamps is not None
                 else np.arange(-len(forecast.history_values) + 1, 1))
    future_x = (forecast.timestamps if forecast.timestamps is not None
                else np.arange(1, len(forecast.values) + 1))
    for j, name in enumerate(forecast.columns):
        ax = axes[j, 0]
        ax.plot(history_x, forecast.history_values[:, j], color="tab:blue", label="history")
        ax.plot(future_x, forecast.values[:, j], color="tab:orange", linestyle="--",
                label="forecast")
        ax.axvline(history_x[-1], color="grey", linewidth=0.8)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left")
    if title:
        axes[0, 0].set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(Path(path).expanduser(), dpi=100)
    plt.close(fig)
