"""What a served model reads and what it answers, by kind, for :mod:`sentiment.serving.app`.

Three kinds share the server's routes and batchers:

=====================  ==========================  =======================================
kind                   a request item              one batcher row, then the answer
=====================  ==========================  =======================================
text classifier        a string                    ``(classes,)`` probabilities ->
                                                   ``{"label", "score", "scores"}``
regression model       a string, or a sequence     ``(1,)`` the value in the targets'
(text or sequences)                                units -> ``{"value": 7.8}``
sequence classifier    ``(time, features)``        ``(classes,)`` probabilities
                       nested arrays of numbers
=====================  ==========================  =======================================

A sequence is checked and turned into a ``(time, features) float32`` array on the event
loop, before it joins a batch: a bad one (another feature count, NaN, no frames) is a 422
naming its index and never fails the other requests of a batch. Numpy only; the predictor
passed in has TensorFlow loaded already.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DataError
from .protocol import RequestError

#: The longest warm-up sequence, in frames.
WARMUP_FRAMES = 64


def reads_sequences(predictor: Any) -> bool:
    """Whether ``predictor`` reads sequences of vectors (a
    :class:`~sentiment.sequences.predictor.SequencePredictor`) rather than texts."""
    return getattr(predictor, "inputs", "texts") == "sequences"


def is_regression(predictor: Any) -> bool:
    """Whether ``predictor`` gives numbers (``task == "regression"``) rather than labels."""
    return getattr(predictor, "task", "classification") == "regression"


def output_width(predictor: Any) -> int:
    """Columns of one batcher row: 1 for a regression model, else the number of classes."""
    return 1 if is_regression(predictor) else len(predictor.labels)


def row_function(predictor: Any) -> Callable[[list], np.ndarray]:
    """What the dynamic batcher runs: items -> ``(n, output_width)`` rows in input order:
    class probabilities (``predict_proba``, float32), or for a regression model the values
    in the targets' units (``predict_values``, float64, clipped to the model's range)."""
    if is_regression(predictor):
        return lambda items: np.asarray(predictor.predict_values(items))[:, None]
    return predictor.predict_proba


def row_dtype(predictor: Any):
    """The dtype of :func:`row_function`'s rows: float64 values, float32 probabilities."""
    return np.float64 if is_regression(predictor) else np.float32


def warmup_inputs(predictor: Any) -> list:
    """A warm-up batch of the kind the model reads: for texts, an empty one, short ones and
    one over ``max_length`` tokens; for sequences, 1, 7 and :data:`WARMUP_FRAMES` frames of
    zeros with the model's feature count."""
    if reads_sequences(predictor):
        features = predictor.config.features
        return [np.zeros((frames, features), np.float32) for frames in (1, 7, WARMUP_FRAMES)]
    from .loading import warmup_texts

    return warmup_texts(getattr(getattr(predictor, "config", None), "max_length", 64))


def checked_sequences(predictor: Any, items: Sequence[Any], field: str,
                      single: bool = False) -> list[np.ndarray]:
    """Request items as ``(time, features) float32`` arrays for a sequence model (run it
    off the event loop: a large body holds many numbers).

    Args:
        predictor: the :class:`~sentiment.sequences.predictor.SequencePredictor`.
        items: the parsed JSON arrays.
        field: how messages name the items (``sequences`` -> ``sequences[2]``).
        single: the body held one item, named ``field`` alone.

    Raises:
        RequestError: 422 naming the first bad item (``sequences[2]: 5 features per frame;
            the model takes 12``).
    """
    frames = []
    for index, item in enumerate(items):
        try:
            frames.append(predictor.frames(item, field if single else f"{field}[{index}]"))
        except DataError as error:
            raise RequestError(422, str(error)) from None
    return frames


def tf_serving_outputs(predictor: Any, rows: np.ndarray) -> dict[str, list]:
    """The outputs of ``sentiment export``'s ``serve`` signature for batcher ``rows``, by
    name: ``value`` for a regression model; ``probabilities``, ``predicted`` and
    ``thresholds`` for a multi-label classifier; ``probabilities`` and ``label`` otherwise
    (the saved decision rule, as the export applies it). A regression model's one output
    is given as TensorFlow Serving gives a single output: without its name
    (:func:`tf_serving_body`)."""
    if is_regression(predictor):
        return {"value": rows[:, 0].tolist()}
    rule = predictor.decision
    if rule.multi_label:
        return {"probabilities": rows.tolist(),
                "predicted": rule.label_sets(rows).tolist() if len(rows) else [],
                "thresholds": [rule.label_thresholds().tolist()] * len(rows)}
    return {"probabilities": rows.tolist(), "label": rule.decide(rows) if len(rows) else []}


def tf_serving_body(outputs: dict[str, list], columnar: bool) -> dict[str, Any]:
    """TensorFlow Serving's REST answer for ``outputs`` (name -> one value per row):
    ``{"outputs": {name: [...]}}`` (columnar request) or ``{"predictions": [{name: value},
    ...]}`` (row request); a single output loses its name, as TF Serving omits it:
    ``{"outputs": [...]}`` or ``{"predictions": [...]}`` (``tensorflow/serving``'s REST API
    guide, "If the output of the model contains only one named tensor, we omit the
    name")."""
    if len(outputs) == 1:
        (values,) = outputs.values()
        return {"outputs": values} if columnar else {"predictions": values}
    if columnar:
        return {"outputs": outputs}
    return {"predictions": [dict(zip(outputs, values)) for values in zip(*outputs.values())]}
