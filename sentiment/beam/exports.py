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
from ..errors import ModelError
from ..export import EXPORT_INFO_FILE, load_export
from ..sequences.predictor import SequencePredictor


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
        from ..decisions import decision_for

        self.loaded = loaded
        self.config = ClassifierConfig.from_dict(info["classifier"])
        self.labels = tuple(info.get("labels", ()))
        self.decision = decision_for(self.config, self.task, **decision)

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

    #: the export standardizes the frames in its graph: they go in raw; the checks still
    #: standardize them with the same statistics, so a frame that would overflow is refused
    _runs_on_raw_frames = True

    def __init__(self, loaded, config: SequenceModelConfig, **decision: Any):
        super().__init__(None, config, **decision)  # no Keras model: the export runs
        self.loaded = loaded

    def _run(self, values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One batch through the export's ``serve``: ``(batch, classes)`` probabilities, or
        ``(batch, 1)`` values already in the targets' units (float32)."""
        served = self.loaded.serve(tf.constant(values), tf.constant(lengths))
        if self.config.regression:
            return served["value"].numpy().reshape(-1, 1)
        return served["probabilities"].numpy()

    def _values(self, outputs: np.ndarray) -> np.ndarray:
        """``(n,) float64``: the export restored and clipped the values itself."""
        return outputs[:, 0].astype(np.float64)


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
