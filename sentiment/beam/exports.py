"""Predictors over ``sentiment export`` SavedModels, for the Beam handler.

    sentiment_export.json
      "classifier" (texts)       -> ExportPredictor: serve(texts (batch,) tf.string)
                                      -> probabilities (batch, classes) float32, or
                                         value (batch,) float32 (regression)
      "sequence_model" (frames)  -> SequenceExportPredictor: serve(values (batch, time,
                                      features) float32, lengths (batch,) int32)
                                      -> probabilities (batch, classes) float32, or
                                         value (batch,) float32 (regression)

Each has what :func:`sentiment.scoring.predict_chunk` uses (``labels``, ``task``,
``decision``, ``predict_proba`` or ``predict_values``, and for sequences ``input_problem``),
so scoring an export gives the rows, columns and error cells that scoring its model
directory gives (the numbers within float32 rounding: the export standardizes and restores
in float32). The decision keywords (``threshold``, ``abstain_below``, ``abstain_label``) are
applied here, as a :class:`sentiment.Predictor` applies them; the export's own ``label``
output is not used.

Imported on the worker only (:func:`sentiment.beam.handler.load_predictor`): it imports
TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from ..config import INFERENCE_BATCH_SIZE
from ..config.sequence import SequenceModelConfig
from ..errors import ConfigError, ModelError
from ..export import EXPORT_INFO_FILE, load_export
from ..sequences.data import FeatureNormalizer, pad_sequences
from ..sequences.predictor import SequencePredictor
from ..text.batching import length_sorted_batches


class ExportPredictor:
    """``labels``, ``task``, ``decision`` and ``predict_proba`` / ``predict_values`` over a
    text model's ``sentiment export`` SavedModel.

    Args:
        loaded: the loaded SavedModel (:func:`sentiment.export.load_export`).
        info: its ``sentiment_export.json`` (``labels``, ``classifier``).
        decision: ``threshold``, ``abstain_below``, ``abstain_label`` as
            :meth:`DecisionRule.for_config` takes them.

    Raises:
        ConfigError: a ``threshold`` or ``abstain_below`` for a regression model, or a
            decision the classifier cannot take.
    """

    inputs = "texts"

    def __init__(self, loaded, info: dict, **decision: Any):
        from ..config import ClassifierConfig
        from ..decisions import DecisionRule

        self.loaded = loaded
        self.config = ClassifierConfig.from_dict(info["classifier"])
        self.labels = tuple(info.get("labels", ()))
        if self.task == "regression":
            given = [key for key in ("threshold", "abstain_below")
                     if decision.get(key) is not None]
            if given:
                raise ConfigError(f"{', '.join(given)}: a regression model gives numbers, not "
                                  "labels")
            self.decision = None
        else:
            self.decision = DecisionRule.for_config(self.config, **decision)

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return getattr(self.config, "task", "classification")

    def _serve(self, texts: Sequence[str], batch_size: int, output: str) -> list[np.ndarray]:
        """``output`` of the ``serve`` endpoint for ``texts``, in batches of ``batch_size``
        (input order)."""
        from ..text.encoder import valid_utf8

        texts = [valid_utf8(text) for text in texts]
        return [self.loaded.serve(tf.constant(texts[start:start + batch_size]))[output].numpy()
                for start in range(0, len(texts), batch_size)]

    def predict_proba(self, texts: Sequence[str],
                      batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Class probabilities ``(n, classes) float32`` (temperature-scaled in the graph),
        rows in input order."""
        parts = self._serve(texts, batch_size, "probabilities")
        return (np.concatenate(parts) if parts
                else np.zeros((0, len(self.labels)), dtype=np.float32))

    def predict_values(self, texts: Sequence[str],
                       batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """A regression model's predictions ``(n,) float64`` in the targets' units (clipped
        to the saved range in the graph), input order."""
        parts = self._serve(texts, batch_size, "value")
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


class SequenceExportPredictor(SequencePredictor):
    """A :class:`~sentiment.sequences.predictor.SequencePredictor` whose forward pass is a
    ``sentiment export`` SavedModel's ``serve(values, lengths)`` (which standardizes the raw
    frames itself and, for regression, restores and clips the values).

    ``labels``, ``task``, ``decision``, ``input_problem`` (the error cell of a bad sequence),
    ``frames`` and ``predict`` are the model directory's; :meth:`predict_proba` and
    :meth:`predict_values` feed raw frames to the export.

    Args:
        loaded: the loaded SavedModel.
        config: the :class:`~sentiment.config.sequence.SequenceModelConfig` recorded in its
            ``sentiment_export.json`` (``sequence_model``).
        decision: as :class:`SequencePredictor` takes them.

    Raises:
        ConfigError: as :class:`SequencePredictor` (decision keywords for a regression model).
    """

    def __init__(self, loaded, config: SequenceModelConfig, **decision: Any):
        super().__init__(None, config, **decision)  # no Keras model: the export runs
        self.loaded = loaded
        # the export standardizes in its graph: frames go in raw (float32, unchanged)
        self.normalizer = FeatureNormalizer((0.0,) * config.features,
                                            (1.0,) * config.features)

    def _serve(self, sequences: Sequence[Any], batch_size: int, output: str,
               shape: tuple[int, ...]) -> np.ndarray:
        """``output`` of ``serve`` for ``sequences`` ``(n, *shape) float32``, in
        length-sorted batches of ``batch_size`` right-padded with zeros, rows in input order.

        Raises:
            DataError: a sequence :meth:`frames` refuses (naming its index).
            ConfigError: ``batch_size < 1``.
        """
        frames = self._check(sequences, batch_size)  # raw frames (identity normalizer)
        out = np.zeros((len(frames), *shape), np.float32)
        for rows in length_sorted_batches(np.array([len(f) for f in frames]), batch_size):
            values, lengths = pad_sequences([frames[i] for i in rows])
            out[rows] = self.loaded.serve(tf.constant(values), tf.constant(lengths))[
                output].numpy()
        return out

    def predict_proba(self, sequences: Sequence[Any],
                      batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Class probabilities ``(n, classes) float32``, rows in input order.

        Raises:
            DataError: as :meth:`SequencePredictor.predict_proba`.
            ConfigError: a regression model, or ``batch_size < 1``.
        """
        if self.config.regression:
            raise ConfigError("a regression model has no class probabilities; use "
                              "predict_values")
        return self._serve(sequences, batch_size, "probabilities", (len(self.labels),))

    def predict_values(self, sequences: Sequence[Any],
                       batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Regression: ``(n,) float64`` predictions in the targets' units, clipped to the
        saved range (computed in float32 by the export).

        Raises:
            DataError: as :meth:`SequencePredictor.predict_values`.
            ConfigError: a classification model, or ``batch_size < 1``.
        """
        if not self.config.regression:
            raise ConfigError("a classification model gives class probabilities; use "
                              "predict_proba")
        return self._serve(sequences, batch_size, "value", ()).astype(np.float64)


def load_export_predictor(export_dir: Path, decision: dict | None = None):
    """The predictor of a ``sentiment export`` SavedModel in ``export_dir`` (local).

    Returns:
        :class:`SequenceExportPredictor` for an export of a model over sequences, else
        :class:`ExportPredictor` (text classifiers, multi-label, ensembles, regression).

    Raises:
        ModelError: a file that differs from the recorded one, a SavedModel TensorFlow cannot
            load, or an export whose ``sentiment_export.json`` describes no model.
        ConfigError: for ``decision`` keywords the model cannot take.
    """
    loaded = load_export(export_dir)  # checks the recorded sizes and digests first
    info = json.loads((Path(export_dir) / EXPORT_INFO_FILE).read_text(encoding="utf-8"))
    if "sequence_model" in info:
        return SequenceExportPredictor(
            loaded, SequenceModelConfig.from_dict(info["sequence_model"]), **(decision or {}))
    if "classifier" in info:
        return ExportPredictor(loaded, info, **(decision or {}))
    raise ModelError(f"{export_dir / EXPORT_INFO_FILE} describes no model (neither "
                     "'classifier' nor 'sequence_model'); export it again")
