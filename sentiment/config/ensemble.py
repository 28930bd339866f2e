"""The configuration of an ensemble of classifiers (``sentiment ensemble``), saved as the
``ensemble`` entry of its ``config.json``; see :mod:`sentiment.ensemble`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .classifier import IF_NO_LABEL
from .fields import ConfigBase

#: ``sentiment ensemble --weights`` modes (besides one number per member).
WEIGHTINGS = ("equal", "validation")


@dataclass(frozen=True)
class EnsembleConfig(ConfigBase):
    """The frozen configuration of an ensemble, saved as ``config.json``'s ``ensemble``.

    Attributes:
        members: each member's model directory, relative to the ensemble directory
            (``members/0``, ...).
        sources: where each member was copied from (for people reading the file).
        weights: each member's weight, >= 0, summing to 1.
        weighting: how the weights were chosen: ``equal``, ``given`` or ``validation``.
        labels, label_values, multi_label: the members' (identical in each member).
        threshold, thresholds, if_no_label: the ensemble's decision rule, as
            :class:`~sentiment.config.ClassifierConfig` holds it (a two-class threshold on
            the probability of ``labels[1]``, or one threshold per label for a multi-label
            ensemble).
        temperature: always 1.0: each member's probabilities are already scaled by its own
            temperature before they are averaged.
        max_length: the largest ``max_length`` of the members, in tokens.

    Raises:
        ConfigError: on construction, for members other than ``members/0``, ``members/1``,
            ...; weights that do not match the members, are negative or do not sum to 1; a
            threshold outside [0, 1], thresholds not one per label, or a temperature other
            than 1.
    """

    members: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    weighting: str = "equal"
    labels: tuple[str, ...] = ()
    label_values: tuple[str, ...] = ()
    multi_label: bool = False
    threshold: float | None = None
    thresholds: tuple[float, ...] = ()
    if_no_label: str = "empty"
    temperature: float = 1.0
    max_length: int = 600

    def __post_init__(self):
        for name in ("members", "sources", "weights", "labels", "label_values", "thresholds"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if not self.members:
            raise ConfigError("an ensemble needs at least one member")
        if len(self.weights) != len(self.members):
            raise ConfigError(f"weights: one per member ({len(self.members)}); received "
                              f"{list(self.weights)}")
        if any(not math.isfinite(w) or w < 0 for w in self.weights) \
                or abs(math.fsum(self.weights) - 1.0) > 1e-6:
            raise ConfigError(f"weights must be >= 0 and sum to 1; received {list(self.weights)}")
        expected = tuple(f"members/{index}" for index in range(len(self.members)))
        if self.members != expected:  # inside the directory, where its fingerprints reach
            raise ConfigError(f"members must be {list(expected)}; received "
                              f"{list(self.members)}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1]; received {self.threshold!r}")
        if self.thresholds and len(self.thresholds) != len(self.labels):
            raise ConfigError(f"thresholds: one per label ({len(self.labels)}); received "
                              f"{len(self.thresholds)}")
        if self.temperature != 1.0:
            raise ConfigError("an ensemble's temperature is 1.0 (each member scales its own "
                              f"probabilities); received {self.temperature!r}")
        if self.if_no_label not in IF_NO_LABEL:
            raise ConfigError(f"if_no_label must be one of {', '.join(IF_NO_LABEL)}; received "
                              f"{self.if_no_label!r}")
