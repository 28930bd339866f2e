"""From probabilities to labels: decision thresholds and abstention.

    probabilities (n, classes) float32
      -> single-label: the argmax, or for two classes ``labels[1]`` where
         ``p[:, 1] >= threshold``; then ``abstain_label`` where the chosen label's probability
         is below ``abstain_below``                         -> (n,) int64 indices, -1: abstain
      -> multi-label: every label whose probability reaches its threshold (per label, or one
         for all); a row with none gets no label, or its most probable one (``if_no_label``)
                                                            -> (n, labels) bool

A :class:`DecisionRule` is built from the saved configuration (the threshold training tuned,
the per-label thresholds of a multi-label model) and the options given at prediction time, so
``Predictor``, ``score``, ``evaluate``, the server, Beam and the exported SavedModel decide
alike. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import ABSTAIN_LABEL, IF_NO_LABEL
from .errors import ConfigError


def _check_probability(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a probability in [0, 1]; received {value!r}")


@dataclass(frozen=True)
class DecisionRule:
    """How a model's probabilities become labels.

    Attributes:
        labels: the class names, in the column order of the probabilities.
        threshold: two-class models: predict ``labels[1]`` where its probability is
            ``>= threshold`` (else ``labels[0]``); multi-label models: one threshold for every
            label, in place of ``thresholds``; ``None``: the argmax (single-label) or
            ``thresholds``.
        abstain_below: single-label models: give ``abstain_label`` where the probability of
            the label chosen is below this; ``None``: never abstain.
        abstain_label: the label given when abstaining; not one of ``labels``.
        multi_label: the model gives each label its own (sigmoid) probability.
        thresholds: multi-label models: one threshold per label (``()``: 0.5 each).
        if_no_label: multi-label models: ``empty`` (a row may get no label) or ``top`` (a row
            with no label above its threshold gets its single most probable one).

    Raises:
        ConfigError: a probability outside [0, 1]; ``threshold`` on a single-label model
            with other than two classes (the message names the classes); ``abstain_below``
            on a multi-label model; an ``abstain_label`` that is a class name; a wrong number
            of ``thresholds``; an unknown ``if_no_label``.
    """

    labels: tuple[str, ...]
    threshold: float | None = None
    abstain_below: float | None = None
    abstain_label: str = ABSTAIN_LABEL
    multi_label: bool = False
    thresholds: tuple[float, ...] = ()
    if_no_label: str = "empty"

    def __post_init__(self):
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        _check_probability("threshold", self.threshold)
        _check_probability("abstain_below", self.abstain_below)
        for value in self.thresholds:
            _check_probability("each of thresholds", value)
        if self.threshold is not None and not self.multi_label and len(self.labels) != 2:
            raise ConfigError(f"threshold needs a two-class model; this model has "
                              f"{len(self.labels)} classes ({', '.join(self.labels)}); "
                              "use abstain_below to hold back unsure predictions")
        if self.multi_label and self.abstain_below is not None:
            raise ConfigError("abstain_below applies to single-label models; a multi-label "
                              "model gives no label where none reaches its threshold")
        if self.abstain_below is not None and self.abstain_label in self.labels:
            raise ConfigError(f"abstain_label {self.abstain_label!r} is one of the model's "
                              "classes; choose another")
        if self.thresholds and len(self.thresholds) != len(self.labels):
            raise ConfigError(f"thresholds has {len(self.thresholds)} values for "
                              f"{len(self.labels)} labels")
        if self.if_no_label not in IF_NO_LABEL:
            raise ConfigError(f"if_no_label must be one of {', '.join(IF_NO_LABEL)}; received "
                              f"{self.if_no_label!r}")

    @classmethod
    def for_config(cls, config, *, threshold: float | None = None,
                   abstain_below: float | None = None,
                   abstain_label: str = ABSTAIN_LABEL) -> "DecisionRule":
        """The rule of a model's :class:`~sentiment.config.ClassifierConfig` (its saved
        ``threshold``, ``multi_label``, ``thresholds`` and ``if_no_label``), with ``threshold``,
        when given, in place of the saved one.

        Raises:
            ConfigError: as the class does.
        """
        saved = getattr(config, "threshold", None)
        return cls(labels=tuple(config.labels),
                   threshold=saved if threshold is None else threshold,
                   abstain_below=abstain_below, abstain_label=abstain_label,
                   multi_label=bool(getattr(config, "multi_label", False)),
                   thresholds=tuple(getattr(config, "thresholds", ()) or ()),
                   if_no_label=getattr(config, "if_no_label", "empty"))

    # ------------------------------------------------------------------ single-label

    def choose(self, probabilities: np.ndarray) -> np.ndarray:
        """The label chosen for each row before abstention, ``(n,) int64``: the argmax, or
        for a two-class ``threshold`` 1 where ``p[:, 1] >= threshold``."""
        probabilities = np.asarray(probabilities)
        if self.threshold is not None and not self.multi_label:
            # in float32, the model's precision, as the SavedModel compares
            return (probabilities[:, 1].astype(np.float32)
                    >= np.float32(self.threshold)).astype(np.int64)
        return probabilities.argmax(axis=1).astype(np.int64)

    def indices(self, probabilities: np.ndarray) -> np.ndarray:
        """``(n,) int64`` class indices of ``(n, classes)`` probabilities, -1 where the rule
        abstains."""
        chosen = self.choose(probabilities)
        if self.abstain_below is not None and chosen.size:
            confidence = np.asarray(probabilities)[np.arange(chosen.size), chosen]
            chosen = np.where(confidence < self.abstain_below, -1, chosen)
        return chosen

    def label(self, index: int) -> str:
        """The name of class ``index``, :attr:`abstain_label` for -1."""
        return self.abstain_label if index < 0 else self.labels[index]

    # ------------------------------------------------------------------ multi-label

    def label_thresholds(self) -> np.ndarray:
        """The threshold of each label, ``(labels,) float64`` (multi-label models)."""
        if self.threshold is not None:
            return np.full(len(self.labels), float(self.threshold))
        if self.thresholds:
            return np.asarray(self.thresholds, dtype=np.float64)
        return np.full(len(self.labels), 0.5)

    def label_sets(self, probabilities: np.ndarray) -> np.ndarray:
        """``(n, labels) bool``: the labels each row gets (multi-label models)."""
        from .thresholds import apply_thresholds

        return apply_thresholds(probabilities, self.label_thresholds(), self.if_no_label)

    # ------------------------------------------------------------------ rows

    def decide(self, probabilities: np.ndarray) -> list:
        """Per row, the label name (single-label; :attr:`abstain_label` where abstaining)
        or the list of label names (multi-label)."""
        probabilities = np.asarray(probabilities)
        if self.multi_label:
            return [[self.labels[j] for j in np.flatnonzero(row)]
                    for row in self.label_sets(probabilities)]
        return [self.label(int(i)) for i in self.indices(probabilities)]

    def postprocess(self, probabilities: np.ndarray) -> dict[str, Any]:
        """One row of probabilities ``(classes,)`` -> ``{"label", "score", "scores"}``
        (``score``: the probability of the label chosen, also when abstaining), or for
        multi-label models ``{"labels": [...], "scores": {name: p}}``."""
        probabilities = np.asarray(probabilities, dtype=np.float64)
        scores = {name: float(p) for name, p in zip(self.labels, probabilities)}
        if self.multi_label:
            return {"labels": self.decide(probabilities[None])[0], "scores": scores}
        chosen = int(self.choose(probabilities[None])[0])
        index = int(self.indices(probabilities[None])[0])
        return {"label": self.label(index), "score": float(probabilities[chosen]),
                "scores": scores}

    def to_dict(self) -> dict[str, Any]:
        """The rule as ``metrics.json`` and reports record it (unset parts left out)."""
        out: dict[str, Any] = {}
        if self.multi_label:
            out.update(thresholds=dict(zip(self.labels, self.label_thresholds().tolist())),
                       if_no_label=self.if_no_label)
        elif self.threshold is not None:
            out.update(threshold=self.threshold, positive_label=self.labels[1])
        if self.abstain_below is not None:
            out.update(abstain_below=self.abstain_below, abstain_label=self.abstain_label)
        return out


def chosen_scores(rule: DecisionRule, probabilities: np.ndarray) -> np.ndarray:
    """``(n,) float32`` probability of the label each row is given (before abstention); for a
    multi-label rule the highest probability of the row."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if not len(probabilities) or probabilities.shape[1] == 0:
        return np.full(len(probabilities), np.nan, np.float32)
    if rule.multi_label:
        return probabilities.max(axis=1)
    chosen = rule.choose(probabilities)
    return probabilities[np.arange(len(chosen)), chosen]


def decision_for(config, task: str, *, threshold: float | None = None,
                 abstain_below: float | None = None,
                 abstain_label: str = ABSTAIN_LABEL) -> DecisionRule | None:
    """The :class:`DecisionRule` of a classifier (:meth:`DecisionRule.for_config`), or
    ``None`` for a regression model (``task == "regression"``), which gives numbers.

    Raises:
        ConfigError: a ``threshold`` or ``abstain_below`` for a regression model (the message
            names them), or as :class:`DecisionRule`.
    """
    if task != "regression":
        return DecisionRule.for_config(config, threshold=threshold,
                                       abstain_below=abstain_below, abstain_label=abstain_label)
    given = [name for name, value in (("threshold", threshold), ("abstain_below", abstain_below))
             if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: a regression model gives numbers, not labels")
    return None
