"""Evaluating a Predictor on labelled texts, with the labels its decision rule gives.

    probabilities (n, classes) -> DecisionRule -> predicted classes (or label sets)
      -> single-label: accuracy, macro F1, ROC-AUC, confusion matrix [, coverage]
      -> multi-label: micro / macro F1, per-label F1, Hamming loss, subset accuracy
"""

from __future__ import annotations

import numpy as np

from .config import INFERENCE_BATCH_SIZE
from .data import LabelledTexts
from .decisions import DecisionRule
from .metrics import classification_report, multilabel_report, selective_report


def decision_report(rule: DecisionRule, y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """The metrics of the labels ``rule`` gives ``probabilities``.

    Args:
        rule: the decision rule (thresholds, abstention).
        y_true: ``(n,)`` int class indices, or ``(n, labels)`` multi-hot for a multi-label
            rule.
        probabilities: ``(n, classes)`` float.

    Returns:
        Single-label: :func:`sentiment.metrics.classification_report` of the label chosen
        (a two-class threshold's; abstention aside), plus ``"decision"`` (the rule, when it
        is not the plain argmax) and ``"abstention"`` (:func:`sentiment.metrics.
        selective_report`) with ``abstain_below``. Multi-label:
        :func:`sentiment.metrics.multilabel_report` with the thresholds used.
    """
    if rule.multi_label:
        report = multilabel_report(y_true, rule.label_sets(probabilities), probabilities,
                                   rule.labels, thresholds=rule.label_thresholds())
        report["decision"] = rule.to_dict()
        return report
    report = classification_report(y_true, probabilities, rule.labels,
                                   y_pred=rule.choose(probabilities))
    if rule.to_dict():
        report["decision"] = rule.to_dict()
    if rule.abstain_below is not None:
        report["abstention"] = selective_report(y_true, rule.indices(probabilities),
                                                len(rule.labels))
    return report


def true_labels(data: LabelledTexts, config) -> np.ndarray:
    """``(n,)`` class indices of ``data``, or ``(n, labels)`` multi-hot rows for a
    multi-label model.

    Raises:
        DataError: for a label the model does not know (naming its row).
    """
    from .labels import label_indices, multi_hot

    return multi_hot(data, config) if getattr(config, "multi_label", False) \
        else label_indices(data, config)


def evaluate_predictor(predictor, data: LabelledTexts,
                       batch_size: int = INFERENCE_BATCH_SIZE) -> dict:
    """:func:`decision_report` of ``predictor`` on ``data``: accuracy, macro F1, ROC-AUC (two
    classes) and the confusion matrix, with coverage when it abstains; micro and macro F1,
    Hamming loss and subset accuracy for a multi-label model.

    Raises:
        DataError: when ``data`` is empty, holds a label the model does not know, or is
            single-label data for a multi-label model (or the reverse).
    """
    from .errors import DataError

    if len(data) == 0:
        raise DataError(f"{data.source}: no rows to evaluate")
    y_true = true_labels(data, predictor.config)
    probabilities = predictor.predict_proba(data.texts, batch_size=batch_size)
    report = decision_report(predictor.decision, y_true, probabilities)
    report["source"] = data.source
    return report


def format_report(report: dict) -> str:
    """A human-readable summary: metrics, then the confusion matrix (rows = true labels), or
    for a multi-label model the per-label table."""
    if report.get("multi_label"):
        return _format_multilabel(report)
    lines = [f"examples   {report['examples']}",
             f"accuracy   {report['accuracy']:.4f}",
             f"macro F1   {report['macro_f1']:.4f}"]
    if report.get("roc_auc") is not None:
        lines.append(f"ROC-AUC    {report['roc_auc']:.4f}")
    decision = report.get("decision", {})
    if "threshold" in decision:
        lines.append(f"threshold  {decision['threshold']:.4f} on P({decision['positive_label']})")
    abstention = report.get("abstention")
    if abstention:
        covered, covered_f1 = abstention["accuracy_covered"], abstention["macro_f1_covered"]
        lines.append(f"coverage   {abstention['coverage']:.4f} ({abstention['rows_abstained']} "
                     f"'{decision['abstain_label']}' below {decision['abstain_below']:g})")
        lines.append("accuracy on covered rows "
                     + ("-" if covered is None else f"{covered:.4f}")
                     + "  macro F1 " + ("-" if covered_f1 is None else f"{covered_f1:.4f}"))
    labels = report["labels"]
    width = max(8, *(len(label) for label in labels)) + 2
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(label.rjust(width) for label in labels))
    for label, row in zip(labels, report["confusion_matrix"]):
        lines.append(label.ljust(width) + "".join(str(n).rjust(width) for n in row))
    return "\n".join(lines)


def _format_multilabel(report: dict) -> str:
    auc = report.get("macro_roc_auc")
    lines = [f"examples         {report['examples']}",
             f"micro F1         {report['micro_f1']:.4f}",
             f"macro F1         {report['macro_f1']:.4f}",
             f"subset accuracy  {report['subset_accuracy']:.4f}",
             f"Hamming loss     {report['hamming_loss']:.4f}",
             "macro ROC-AUC    " + ("-" if auc is None else f"{auc:.4f}"),
             f"rows without a label  {report['rows_without_label']}",
             ""]
    width = max(8, *(len(label) for label in report["labels"])) + 2
    lines.append("label".ljust(width) + "".join(
        name.rjust(10) for name in ("threshold", "precision", "recall", "F1", "support")))
    for name in report["labels"]:
        row = report["per_label"][name]
        lines.append(name.ljust(width) + f"{row.get('threshold', 0.5):10.3f}"
                     + "".join(f"{row[key]:10.4f}" for key in ("precision", "recall", "f1"))
                     + f"{row['support']:10d}")
    return "\n".join(lines)


def regression_targets(data: LabelledTexts) -> np.ndarray:
    """The labels of ``data`` as ``(n,) float64`` numbers (a regression model's targets).

    Raises:
        DataError: a label that is not a finite number, naming its row.
    """
    from .errors import DataError

    targets = np.empty(len(data.labels))
    for row, label in enumerate(data.labels):
        try:
            targets[row] = float(label)
        except (TypeError, ValueError):
            targets[row] = np.nan
        if not np.isfinite(targets[row]):
            raise DataError(f"{data.source}: row {row + 1}: a regression target must be a "
                            f"number; received {str(label)[:40]!r}")
    return targets


def evaluate_regression(predictor, data: LabelledTexts,
                        batch_size: int = INFERENCE_BATCH_SIZE) -> dict:
    """:func:`sentiment.metrics.regression_report` (MAE, RMSE, R², Spearman) of a regression
    ``predictor`` on ``data``, in the targets' units.

    Raises:
        DataError: empty data, or a label that is not a number (naming its row).
    """
    from .errors import DataError
    from .metrics import regression_report

    if len(data) == 0:
        raise DataError(f"{data.source}: no rows to evaluate")
    report = regression_report(regression_targets(data),
                               predictor.predict_values(data.texts, batch_size=batch_size))
    report["source"] = data.source
    return report
