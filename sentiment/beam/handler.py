"""A Beam ``ModelHandler`` for ``sentiment`` models: records in, scored records out.

``RunInference(SentimentModelHandler(...))`` loads the model once per worker process (Beam
shares it between the process's threads), batches records with ``BatchElements`` between
``min_batch_size`` and ``max_batch_size`` and hands each batch to
:func:`sentiment.scoring.predict_chunk`, the function ``sentiment score`` uses: every record
comes back once, with the same fields as a ``sentiment score`` row (``predicted_label``,
``predicted_score``, ``prob_<label>`` and ``error``; ``predicted_value`` and ``error`` for a
regression model), and a record whose input is unusable (a missing, empty or non-string
text; for a model over sequences of vectors a missing or empty sequence, NaN, or another
feature count than the model's) gets ``error`` instead of a prediction.

Beam's bundled ``TFModelHandlerTensor`` loads with ``tf.keras.models.load_model``, which
Keras 3 refuses for a SavedModel, and it does not register the tensorflow-text ops a
``sentiment`` model needs (tensorflow/tfx#3901): hence this handler. It reads either a model
directory (``sentiment train``, text or ``--sequence-column``, classification or
``--task regression``) or a SavedModel written by ``sentiment export`` (the same kinds),
local or on any file system Beam knows (``gs://``, ``s3://``, ``hdfs://``): a remote
directory is copied to a local temporary directory on the worker first.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler

from ..config import CONFIG_FILE, INFERENCE_BATCH_SIZE
from ..errors import ConfigError, ModelError
from ..io.formats import (ERROR_COLUMN, LABEL_COLUMN, LABELS_COLUMN, PROBABILITY_PREFIX,
                          SCORE_COLUMN, VALUE_COLUMN)

#: The file that marks a ``sentiment export`` SavedModel (``sentiment.export``).
EXPORT_MARKER = "sentiment_export.json"
#: Records per ``RunInference`` batch, at most: ``predict_proba`` sorts them by length into
#: model batches of ``batch_size`` texts, which is what keeps padding low (as ``sentiment
#: score`` does with its 4,096-text encoding blocks).
MAX_RECORDS_PER_BATCH = 4096
#: A record field a reader sets when the row could not be read (a line that is not JSON); the
#: handler moves it into ``error`` and drops it.
INPUT_ERROR_FIELD = "__sentiment_input_error__"


def _is_remote(path: str) -> bool:
    return "://" in str(path)


def _local_copy(model_dir: str) -> Path:
    """``model_dir`` itself when local, else a local temporary copy of its files (the copy
    is made once per worker process and left for the process's lifetime).

    Raises:
        ModelError: when nothing matches ``model_dir``.
    """
    if not _is_remote(model_dir):
        return Path(model_dir).expanduser()
    base = model_dir.rstrip("/") + "/"
    matches = FileSystems.match([base + "**"])[0].metadata_list
    if not matches:
        raise ModelError(f"no model files under {model_dir}")
    target = Path(tempfile.mkdtemp(prefix="sentiment-model-"))
    for metadata in matches:
        relative = metadata.path[len(base):]
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        with FileSystems.open(metadata.path) as source, open(destination, "wb") as sink:
            shutil.copyfileobj(source, sink)
    return target


def model_input_column(predictor) -> str:
    """The column ``predictor`` reads when none is named: for a model over sequences of
    vectors the column it was trained on (``sentiment train --sequence-column``, saved in its
    configuration), else ``text``."""
    if getattr(predictor, "inputs", "texts") == "sequences":
        return predictor.config.sequence_column
    return "text"


def load_predictor(model_dir: str, decision: dict | None = None):
    """A predictor for a model directory or a ``sentiment export`` SavedModel, deciding
    labels with ``decision`` (``threshold``, ``abstain_below``, ``abstain_label``; see
    :class:`sentiment.decisions.DecisionRule`) over the saved thresholds.

    Imports ``tensorflow_text`` first, on the worker, so that its ops are registered before
    any graph that uses them is loaded.

    Returns:
        What :func:`sentiment.scoring.predict_chunk` takes: a :class:`sentiment.Predictor`
        (text classifiers, ensembles, text regression models), a
        :class:`sentiment.sequences.predictor.SequencePredictor` (models over sequences of
        vectors), or for an export their counterparts over the SavedModel
        (:func:`sentiment.beam.exports.load_export_predictor`). Each has ``labels``,
        ``task``, ``decision``, ``predict_proba(inputs, batch_size) -> (n, classes)
        float32`` or for regression ``predict_values(inputs, batch_size) -> (n,) float64``,
        and for sequences ``input_problem(value)``.

    Raises:
        ModelError: when the directory holds neither (the message names it), or cannot be
            loaded.
        ConfigError: for a ``decision`` the model cannot take (a threshold for a
            regression model, ...).
    """
    import tensorflow_text  # noqa: F401  registers the tf-text ops on this worker

    local = _local_copy(model_dir)
    if (local / EXPORT_MARKER).is_file():
        from .exports import load_export_predictor

        return load_export_predictor(local, decision)
    if (local / CONFIG_FILE).is_file():
        from ..predictor import Predictor

        # a text model, an ensemble, or a model over sequences (SequencePredictor)
        return Predictor.load(local, **(decision or {}))
    raise ModelError(f"{model_dir} is neither a model directory (config.json) nor a sentiment "
                     f"export ({EXPORT_MARKER})")


class SentimentModelHandler(ModelHandler):
    """Scores dict records with a ``sentiment`` model in ``RunInference``: a text classifier
    (single- or multi-label, an ensemble), a model over sequences of vectors, or a
    regression model of either kind.

    Args:
        model_dir: a model directory or an exported SavedModel; a local path or a URL of any
            file system Beam supports.
        text_column: the record field that holds the model's input: the text, or for a
            model over sequences the sequence (a list of frames, each a list of numbers, or
            a list of numbers; JSON text of either, as CSV holds it). ``None``: the model's
            own (:func:`model_input_column`: ``text``, or the column a model over sequences
            was trained on).
        probabilities: add one ``prob_<label>`` field per class (classifiers).
        min_batch_size, max_batch_size: bounds of the batches ``BatchElements`` forms
            (records per ``predict_proba`` call, which sorts them by length into model
            batches).
        batch_size: texts (or sequences) per model call within a batch.
        decision: ``threshold``, ``abstain_below``, ``abstain_label`` in place of the saved
            decision rule (:func:`load_predictor`).

    Each output record is the input record (every field kept) plus the fields ``sentiment
    score`` adds (:func:`sentiment.scoring.output_columns`): ``predicted_label`` (``str``
    or ``None``), ``predicted_score`` (``float`` or ``None``), ``prob_<label>`` with
    ``probabilities``, and ``error`` (``None``, or why the record got no prediction); for a
    multi-label model ``predicted_labels`` (a list of names, or ``None``) and every
    ``prob_<label>`` in place of the first three; for a regression model
    ``predicted_value`` (``float`` or ``None``) and ``error``.

    Raises:
        ConfigError: when the batch sizes are not integers >= 1 with
            ``min_batch_size <= max_batch_size``.
    """

    def __init__(self, model_dir: str | os.PathLike, *, text_column: str | None = None,
                 probabilities: bool = False, min_batch_size: int = INFERENCE_BATCH_SIZE,
                 max_batch_size: int = MAX_RECORDS_PER_BATCH,
                 batch_size: int = INFERENCE_BATCH_SIZE, decision: dict | None = None):
        for name, value in (("min_batch_size", min_batch_size),
                            ("max_batch_size", max_batch_size), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1; received {value!r}")
        if min_batch_size > max_batch_size:
            raise ConfigError(f"min_batch_size ({min_batch_size}) must not exceed "
                              f"max_batch_size ({max_batch_size})")
        self.model_dir = str(model_dir)
        self.text_column = text_column
        self.probabilities = probabilities
        self.min_batch_size = min_batch_size
        self.max_batch_size = max_batch_size
        self.batch_size = batch_size
        self.decision = dict(decision or {})

    def load_model(self):
        """Runs on the worker: the predictor (:func:`load_predictor`)."""
        return load_predictor(self.model_dir, self.decision)

    def run_inference(self, batch: Sequence[dict], model, inference_args=None
                      ) -> Iterable[dict]:
        """``batch`` of records -> the same records with the prediction fields, in order."""
        from ..scoring import decision_rule, is_regression, predict_chunk

        column = self.text_column or model_input_column(model)
        inputs, row_errors = [], {}
        for row, record in enumerate(batch):
            if not isinstance(record, dict):
                row_errors[row] = f"record is {type(record).__name__}, not a dict"
            elif record.get(INPUT_ERROR_FIELD):
                row_errors[row] = record[INPUT_ERROR_FIELD]
            value = record.get(column) if isinstance(record, dict) else None
            inputs.append(None if isinstance(value, float) and math.isnan(value) else value)
        predictions = predict_chunk(model, inputs, batch_size=self.batch_size,
                                    row_errors=row_errors)
        labels = list(model.labels)
        regression = is_regression(model)
        multi_label = not regression and decision_rule(model).multi_label
        for row, record in enumerate(batch):
            out = dict(record) if isinstance(record, dict) else {"record": repr(record)}
            out.pop(INPUT_ERROR_FIELD, None)
            error = predictions.errors[row]
            scored = error is None
            if regression:  # a number in the targets' units
                out[VALUE_COLUMN] = float(predictions.values[row]) if scored else None
            elif multi_label:  # the labels given (a list), and every label's probability
                out[LABELS_COLUMN] = list(predictions.labels[row]) if scored else None
            else:
                out[LABEL_COLUMN] = predictions.labels[row] if scored else None
                out[SCORE_COLUMN] = float(predictions.scores[row]) if scored else None
            if not regression and (self.probabilities or multi_label):
                for index, label in enumerate(labels):
                    out[PROBABILITY_PREFIX + label] = (
                        float(predictions.probabilities[row, index]) if scored else None)
            out[ERROR_COLUMN] = error
            yield out

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": self.min_batch_size, "max_batch_size": self.max_batch_size}

    def get_num_bytes(self, batch: Sequence[dict]) -> int:
        """Bytes of the input column's values (as text; the whole record when the column is
        the model's own, unknown until it loads), for Beam's metrics."""
        return sum(len(str((record.get(self.text_column) if self.text_column else record)
                           or "").encode("utf-8"))
                   if isinstance(record, dict) else 0 for record in batch)

    def get_metrics_namespace(self) -> str:
        return "sentiment"
