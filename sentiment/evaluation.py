"""Evaluating a Predictor on labelled texts."""

from __future__ import annotations

from .config import INFERENCE_BATCH_SIZE
from .data import LabelledTexts
from .metrics import classification_report
from .labels import label_indices


def evaluate_predictor(predictor, data: LabelledTexts,
                       batch_size: int = INFERENCE_BATCH_SIZE) -> dict:
    """Accuracy, macro F1, ROC-AUC (two classes) and the confusion matrix of ``predictor`` on
    ``data`` (see :func:`sentiment.metrics.classification_report`).

    Raises:
        DataError: when ``data`` is empty or holds a label the model does not know.
    """
    from .errors import DataError

    if len(data) == 0:
        raise DataError(f"{data.source}: no rows to evaluate")
    y_true = label_indices(data, predictor.config)
    probabilities = predictor.predict_proba(data.texts, batch_size=batch_size)
    report = classification_report(y_true, probabilities, predictor.labels)
    report["source"] = data.source
    return report


def format_report(report: dict) -> str:
    """A human-readable summary: metrics, then the confusion matrix (rows = true labels)."""
    lines = [f"examples   {report['examples']}",
             f"accuracy   {report['accuracy']:.4f}",
             f"macro F1   {report['macro_f1']:.4f}"]
    if report.get("roc_auc") is not None:
        lines.append(f"ROC-AUC    {report['roc_auc']:.4f}")
    labels = report["labels"]
    width = max(8, *(len(label) for label in labels)) + 2
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(label.rjust(width) for label in labels))
    for label, row in zip(labels, report["confusion_matrix"]):
        lines.append(label.ljust(width) + "".join(str(n).rjust(width) for n in row))
    return "\n".join(lines)
