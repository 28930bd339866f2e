"""The SequencePredictor: sequences of vectors in, labels and probabilities (or numbers) out.

    sequences: a list of (time, features) arrays or nested lists
      -> to_frames, check the feature count               DataError naming the index
      -> standardize with the saved training statistics
      -> batches of similar length, right-padded: values (batch, time, features) float32,
         lengths (batch,) int32 (the mask's source)
      -> the Keras model -> (batch, classes) probabilities, or (batch, 1) standardized values
      -> {"label", "score", "scores"} (DecisionRule), or {"value": v} in the targets' units

    >>> predictor = SequencePredictor.load("models/vowels")
    >>> predictor.predict([[0.1] * 12] * 20)
    {'label': '3', 'score': 0.98, 'scores': {...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from ..config import CONFIG_FILE, INFERENCE_BATCH_SIZE
from ..config.sequence import SequenceModelConfig
from ..decisions import decision_for
from ..errors import ConfigError, DataError
from ..text.batching import length_sorted_batches
from .data import FeatureNormalizer, pad_sequences, to_frames

from ..models.saving import SEQUENCE_SECTION


class SequencePredictor:
    """Predicts with a model over sequences of vectors.

    Args:
        model: a Keras model from :func:`sentiment.models.sequence.build_sequence_model`.
        config: its :class:`~sentiment.config.sequence.SequenceModelConfig` (statistics,
            labels, task).
        threshold, abstain_below, abstain_label: the decision keywords of
            :class:`~sentiment.decisions.DecisionRule` (classification only).

    Raises:
        ConfigError: decision keywords for a regression model, or as ``DecisionRule``.
    """

    multi_label = False
    fast_inference = False
    #: what the model reads (a text :class:`~sentiment.Predictor`'s is ``"texts"``)
    inputs = "sequences"

    def __init__(self, model, config: SequenceModelConfig, **decision: Any):
        self.model = model
        self.config = config
        self.normalizer = FeatureNormalizer(config.feature_mean, config.feature_std)
        self.decision = decision_for(config, config.task, **decision)
        self._forward = tf.function(
            lambda values, lengths: model({"values": values, "lengths": lengths},
                                          training=False),
            input_signature=[tf.TensorSpec((None, None, config.features), tf.float32),
                             tf.TensorSpec((None,), tf.int32)], reduce_retracing=True)

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in the column order of :meth:`predict_proba` (``()`` for regression)."""
        return self.config.labels

    @property
    def task(self) -> str:
        return self.config.task

    @classmethod
    def load(cls, model_dir: str | Path, **decision: Any) -> "SequencePredictor":
        """Load a model directory written by ``sentiment train --sequence-column``
        (``config.json`` checked, then ``model.keras``); ``decision`` as in the constructor.

        Raises:
            ModelError: a missing, incomplete or corrupted directory, or a model whose
                output or input width does not fit its configuration.
        """
        from ..errors import ModelError
        from ..models import sequence  # noqa: F401  registers the custom layers
        from ..models.saving import load_model_directory, output_width

        loaded = load_model_directory(model_dir, SEQUENCE_SECTION,
                                      SequenceModelConfig.from_dict)
        config, model = loaded.config, loaded.model
        width = output_width(model)
        if width is not None and width != config.num_outputs:
            raise ModelError(f"{loaded.path / CONFIG_FILE} describes {config.num_outputs} "
                             f"outputs but the model has {width}; train the model again")
        return cls(model, config, **decision)

    def input_problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be predicted (scoring writes it in the ``error`` cell), or
        ``None``."""
        try:
            self.frames(value, "sequence")
        except DataError as error:
            return str(error)
        return None

    def frames(self, value: Any, where: str) -> np.ndarray:
        """``value`` as a ``(time, features) float32`` array of raw (not standardized) frames.

        Raises:
            DataError: as :func:`~sentiment.sequences.data.to_frames`, another feature
                count than the model's, or a value that overflows float32 once standardized;
                naming ``where``.
        """
        return self._checked(value, where)[0]

    def _checked(self, value: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
        """The raw and the standardized frames of ``value``, both ``(time, features)
        float32``; raises as :meth:`frames`."""
        frames = to_frames(value, where)
        if frames.shape[1] != self.config.features:
            raise DataError(f"{where}: {frames.shape[1]} features per frame; the model takes "
                            f"{self.config.features}")
        with np.errstate(over="ignore", invalid="ignore"):
            standardized = self.normalizer.transform(frames)
        finite = np.isfinite(standardized).all(axis=1)
        if not finite.all():
            raise DataError(f"{where}: frame {int(np.argmin(finite))} holds a value too large "
                            "for float32 once standardized with the training statistics")
        return frames, standardized

    #: whether :meth:`_run` takes raw frames (an export standardizes them in its graph)
    _runs_on_raw_frames = False

    def _check(self, sequences: Sequence[Any], batch_size: int) -> list[np.ndarray]:
        """The frames :meth:`_run` takes, one ``(time, features) float32`` array per
        sequence; raises as :meth:`predict_proba`."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1; received {batch_size!r}")
        if isinstance(sequences, np.ndarray) and sequences.ndim == 3:
            sequences = list(sequences)  # (n, time, features): n sequences of equal length
        kept = 0 if self._runs_on_raw_frames else 1
        return [self._checked(value, f"sequences[{index}]")[kept]
                for index, value in enumerate(sequences)]

    def _run(self, values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One batch through the model: ``values (batch, time, features) float32`` and
        ``lengths (batch,) int32`` -> ``(batch, outputs) float32``."""
        return self._forward(tf.constant(values), tf.constant(lengths)).numpy()

    def _outputs(self, sequences: Sequence[Any], batch_size: int) -> np.ndarray:
        """The model's outputs ``(n, outputs) float32``, in length-sorted batches right-padded
        with zeros, rows in input order."""
        frames = self._check(sequences, batch_size)
        out = np.zeros((len(frames), self.config.num_outputs), np.float32)
        for rows in length_sorted_batches(np.array([len(f) for f in frames]), batch_size):
            out[rows] = self._run(*pad_sequences([frames[i] for i in rows]))
        return out

    def _values(self, outputs: np.ndarray) -> np.ndarray:
        """Regression outputs ``(n, 1) float32`` (standardized) -> ``(n,) float64`` in the
        targets' units, clipped to ``clip_range`` when the model has one."""
        values = (outputs[:, 0].astype(np.float64) * self.config.target_std
                  + self.config.target_mean)
        if self.config.clip_range is not None:
            values = np.clip(values, *self.config.clip_range)
        return values

    def predict_proba(self, sequences: Sequence[Any],
                      batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Class probabilities ``(n, classes) float32``, rows in input order; padding never
        changes them (the mask comes from each sequence's length).

        Raises:
            DataError: a sequence that is missing, has no frames, holds NaN or infinity, or
                has another feature count than the model's (naming its index).
            ConfigError: a regression model, or ``batch_size < 1``.
        """
        if self.config.regression:
            raise ConfigError("a regression model has no class probabilities; use "
                              "predict_values")
        return self._outputs(sequences, batch_size)

    def predict_values(self, sequences: Sequence[Any],
                       batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Regression: ``(n,) float64`` predictions in the targets' units (the model's
        standardized output times the training targets' standard deviation plus their mean,
        clipped to ``clip_range`` when the model has one).

        Raises:
            DataError: as :meth:`predict_proba`.
            ConfigError: a classification model, or ``batch_size < 1``.
        """
        if not self.config.regression:
            raise ConfigError("a classification model gives class probabilities; use "
                              "predict_proba")
        return self._values(self._outputs(sequences, batch_size))

    def postprocess(self, row: np.ndarray) -> dict[str, Any]:
        """Classification: probabilities ``(classes,)`` -> ``{"label", "score", "scores"}``;
        regression: a value -> ``{"value": v}``."""
        if self.config.regression:
            return {"value": float(np.asarray(row).reshape(-1)[0])}
        return self.decision.postprocess(row)

    def predict(self, sequences, batch_size: int = INFERENCE_BATCH_SIZE):
        """Predict one sequence (a ``(time, features)`` array, a list of frames, or for a
        one-feature model a list of numbers) or a list of them (see :func:`_is_single`).

        Returns:
            For one sequence, a dict (:meth:`postprocess`); for a list, a list of dicts in
            input order.

        Raises:
            DataError: as :meth:`predict_proba`.
        """
        single = _is_single(sequences, self.config.features)
        batch = [sequences] if single else sequences
        outputs = (self.predict_values(batch, batch_size)[:, None] if self.config.regression
                   else self.predict_proba(batch, batch_size))
        results = [self.postprocess(row) for row in outputs]
        return results[0] if single else results


def _is_single(value: Any, features: int) -> bool:
    """Whether ``value`` is one sequence rather than a list of them: a 1-D or 2-D array, a
    list of numbers, or a list of frames (lists of numbers). For a one-feature model, a
    list of lists of numbers is read as several sequences unless every inner list holds one
    number (frames)."""
    if isinstance(value, np.ndarray):
        return value.ndim <= 2
    if not isinstance(value, (list, tuple)) or not value:
        return False
    first = value[0]
    if isinstance(first, np.ndarray):
        return first.ndim <= 1 and not (features == 1 and first.size != 1)
    if isinstance(first, (list, tuple)):
        if first and isinstance(first[0], (list, tuple, np.ndarray)):
            return False  # a list of lists of frames
        if features == 1:
            return all(isinstance(item, (list, tuple)) and len(item) == 1 for item in value)
        return True
    return True

