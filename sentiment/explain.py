"""Per-token explanations of a prediction: integrated gradients or attention weights.

    text -> tokens as the model sees them (normalized, split, truncated)     n tokens
         -> one signed score per token                                      (n,) float

Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep
Networks", ICML) integrate the gradient of the explained class probability along the straight
path from a baseline (all-zero embeddings) to the text's embeddings, then take the dot product
with ``embedding - baseline`` for each token. Completeness holds up to the integration error:
the scores sum to ``p(text) - p(baseline)``, both reported. Positive scores push towards the
explained class. Models with ``pooling="attention"`` over a plain recurrent encoder can show
their attention weights instead (non-negative, summing to 1; they say where the model looked,
not in which direction).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import tensorflow as tf

from .config import EXPLAIN_METHODS
from .errors import ConfigError, DataError, ModelError
from .models.classifier import classifier_members
from .text.encoder import valid_utf8
from .text.vocabulary import OOV_TOKEN


def has_token_attention(config) -> bool:
    """Whether the model's attention weights are per token (attention pooling over a plain
    recurrent encoder; ``cnn-*`` models attend over pooled windows)."""
    return config.pooling == "attention" and not config.arch.startswith("cnn")


def display_tokens(predictor, text: str) -> list[str]:
    """The tokens of ``text`` that the model reads, aligned with its ids.

    Word tokenizers give the words themselves (an out-of-vocabulary word keeps its spelling),
    followed by their n-grams ("not good") for models with ``ngrams > 1``;
    WordPiece gives the pieces (``##`` marks a continuation). A text without tokens is one
    ``[UNK]``.
    """
    encoder = predictor.encoder
    ids = encoder.encode([text])[0].numpy()
    if predictor.config.tokenizer == "wordpiece":
        return [encoder.vocabulary.id_to_token(int(i)) for i in ids]
    words = encoder.tokens([text])[0].numpy()
    if len(words) == 0:
        return [OOV_TOKEN]
    return [w.decode("utf-8") for w in words]


@contextlib.contextmanager
def _layer_output(layer, output):
    """Make ``layer`` return ``output`` (whatever its input) inside the block; its Keras mask
    is still computed from the real input, so padding masks stay in place."""
    layer.call = lambda *args, **kwargs: output
    try:
        yield
    finally:
        del layer.call


def integrated_gradients(model, ids: np.ndarray, target: int,
                         steps: int = 50) -> tuple[np.ndarray, float, float]:
    """Integrated gradients of ``model``'s probability of class ``target`` on the embeddings.

    For an ensemble (:func:`sentiment.models.classifier.average_classifiers`) the scores, and
    both probabilities, are the mean of its members': integrated gradients are linear in the
    model, so the scores still sum to the ensemble's ``p(text) - p(baseline)``, the baseline
    being all-zero embeddings in every member.

    Args:
        model: a classifier from :func:`sentiment.models.classifier.build_classifier` (its
            embedding layer, or each member's, is named ``embedding``).
        ids: ``(time,) int32`` token ids of one text, no padding.
        target: the class index to explain.
        steps: points of the midpoint Riemann sum along the path (Sundararajan et al. use
            20 to 300).

    Returns:
        ``(scores (time,) float64, p(text), p(baseline))``; ``scores.sum()`` approximates
        ``p(text) - p(baseline)``.

    Raises:
        ConfigError: when ``steps < 1``.
        ModelError: when the model has no layer named ``embedding``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1; received {steps!r}")
    results = [_integrated_gradients(member, ids, target, steps)
               for member in classifier_members(model)]
    return (np.mean([scores for scores, _, _ in results], axis=0),
            float(np.mean([end for _, end, _ in results])),
            float(np.mean([baseline for _, _, baseline in results])))


def _integrated_gradients(model, ids, target, steps):
    """:func:`integrated_gradients` of one classifier (not an ensemble)."""
    try:
        embedding = model.get_layer("embedding")
    except ValueError:
        raise ModelError("the model has no layer named 'embedding'; integrated gradients "
                         "need one") from None
    ids = tf.constant(np.asarray(ids, dtype=np.int32)[None, :])
    embedded = embedding(ids)  # (1, time, dim)
    alphas = tf.cast(tf.reshape((tf.range(steps, dtype=tf.float32) + 0.5) / steps,
                                (steps, 1, 1)), embedded.dtype)
    path = alphas * embedded  # (steps, time, dim), baseline all zeros
    ends = tf.concat([tf.zeros_like(embedded), embedded], axis=0)  # baseline and text
    with _layer_output(embedding, ends):
        end_probabilities = model(tf.repeat(ids, 2, axis=0), training=False).numpy()
    with tf.GradientTape() as tape:
        tape.watch(path)
        with _layer_output(embedding, path):
            probabilities = model(tf.repeat(ids, steps, axis=0), training=False)
        selected = probabilities[:, target]
    gradients = tape.gradient(selected, path)  # (steps, time, dim)
    average = tf.reduce_mean(tf.cast(gradients, tf.float32), axis=0)
    scores = tf.reduce_sum(average * tf.cast(embedded[0], tf.float32), axis=-1)
    return (scores.numpy().astype(np.float64), float(end_probabilities[1, target]),
            float(end_probabilities[0, target]))


def attention_weights(model, ids: np.ndarray) -> np.ndarray:
    """The ``(time,) float64`` attention weights of a model with attention pooling for one
    unpadded text (an ensemble's: the mean of its members' weights, still summing to 1).

    Args:
        model: a classifier built with ``pooling="attention"`` (its layer, or each member's,
            is named ``attention_pool``).
        ids: ``(time,) int32`` token ids of one text, no padding.

    Raises:
        ModelError: when the model has no layer named ``attention_pool``.
    """
    return np.mean([_attention_weights(member, ids) for member in classifier_members(model)],
                   axis=0)


def _attention_weights(model, ids):
    """:func:`attention_weights` of one classifier (not an ensemble)."""
    import keras

    try:
        layer = model.get_layer("attention_pool")
    except ValueError:
        raise ModelError("the model has no attention pooling (train with --pooling "
                         "attention); use integrated gradients") from None
    weights_model = keras.Model(model.inputs, layer.output[1])
    weights = weights_model(tf.constant(np.asarray(ids, dtype=np.int32)[None, :]),
                            training=False)
    return np.asarray(weights)[0].astype(np.float64)


def explain(predictor, text: str, *, method: str = "auto", target: str | None = None,
            steps: int = 50) -> dict[str, Any]:
    """Explain the prediction of ``predictor`` for ``text`` token by token.

    Args:
        predictor: a :class:`sentiment.Predictor`.
        text: the text.
        method: ``integrated_gradients``, ``attention`` (models trained with ``--pooling
            attention`` over ``lstm``/``gru``/``bilstm``/``bigru``), or ``auto`` (attention
            where the model has per-token attention and no ``target`` is given, else
            integrated gradients).
        target: the class name to explain (default: the predicted class). Attention weights
            do not depend on the class, so a target needs integrated gradients.
        steps: integration steps of integrated gradients.

    Returns:
        ``{"label", "score", "scores"}`` as :meth:`Predictor.predict` (``{"labels",
        "scores"}`` for a multi-label model), plus ``"target"`` (the explained class; default
        the label chosen before any abstention, or a multi-label model's most probable
        label), ``"method"``, ``"tokens"`` (n strings) and ``"attributions"`` (n
        floats, one per token, in token order). Integrated gradients add
        ``"model_score"`` and ``"baseline_score"``, the model's target probability for the
        text and for all-zero embeddings: the attributions sum to about their difference.
        These are before temperature scaling (``"score"`` and ``"scores"`` are after it, as
        :meth:`Predictor.predict`; the two agree for a model with temperature 1).

    Raises:
        DataError: when ``text`` is not a ``str``.
        ConfigError: unknown ``method`` or ``target``; ``attention`` for a model without
            per-token attention, or together with a ``target``.
    """
    if not isinstance(text, str):
        raise DataError(f"text is {type(text).__name__}, not str: {text!r:.60}")
    text = valid_utf8(text)
    if method not in EXPLAIN_METHODS:
        raise ConfigError(f"method must be one of {', '.join(EXPLAIN_METHODS)}; "
                          f"received {method!r}")
    config = predictor.config
    if method == "auto":
        method = ("attention" if has_token_attention(config) and target is None
                  else "integrated_gradients")
    elif method == "attention" and not has_token_attention(config):
        raise ConfigError(
            "this model has no per-token attention weights (it needs --pooling attention "
            "over lstm, gru, bilstm or bigru); use method integrated_gradients (--method "
            "integrated_gradients)")
    elif method == "attention" and target is not None:
        raise ConfigError(
            f"attention weights do not depend on the class, so target {target!r} needs method "
            "integrated_gradients (--method integrated_gradients)")
    result = predictor.predict(text)
    label = _target(predictor, result, target)
    ids = predictor.encoder.encode([text])[0].numpy()
    tokens = display_tokens(predictor, text)
    if len(tokens) != len(ids):  # defensive: the tokens must line up with the ids
        tokens = [predictor.encoder.vocabulary.id_to_token(int(i)) for i in ids]
    result.update(target=label, method=method, tokens=tokens)
    if method == "attention":
        result["attributions"] = attention_weights(predictor.model, ids).tolist()
    else:
        scores, model_score, baseline = integrated_gradients(
            predictor.model, ids, predictor.labels.index(label), steps)
        result["attributions"] = scores.tolist()
        result["baseline_score"] = baseline
        result["model_score"] = model_score
    return result


def _target(predictor, result: dict[str, Any], target: str | None) -> str:
    """The class to explain: ``target``, or the label chosen (before any abstention; a
    multi-label model's most probable one).

    Raises:
        ConfigError: for a ``target`` that is not one of the model's labels.
    """
    if target is None:
        scores = [result["scores"][name] for name in predictor.labels]
        chosen = (predictor.decision.choose(np.asarray([scores]))[0]
                  if not predictor.multi_label else int(np.argmax(scores)))
        return predictor.labels[int(chosen)]
    if target not in predictor.labels:
        raise ConfigError(f"target must be one of {', '.join(predictor.labels)}; "
                          f"received {target!r}")
    return target


def explain_ensemble(predictor, text: str, *, method: str = "auto",
                     target: str | None = None, steps: int = 50) -> dict[str, Any]:
    """Explain an ensemble's prediction (:class:`sentiment.predictor.EnsemblePredictor`).

    Each member is explained by integrated gradients for the same target (:func:`explain`);
    the ensemble's probability is ``sum_k w_k p_k``, so ``w_k`` times member k's
    attributions are member k's share of it (of its probability before temperature scaling,
    as for one model: exactly so for members with temperature 1). Members may tokenize differently, so the
    top-level ``tokens`` are the first member's and ``attributions`` the weighted sum over
    the members whose tokens are the same (all of them when they share a tokenizer and
    vocabulary); ``members`` lists every member's own.

    Returns:
        :meth:`Predictor.predict`'s dict of the ensemble, plus ``"target"``, ``"method"``
        (``integrated_gradients``), ``"tokens"``, ``"attributions"``, ``"model_score"``
        and ``"baseline_score"`` (the weighted sums over those members, before temperature
        scaling), and ``"members"``: per member ``{"weight", "tokens", "attributions",
        "model_score", "baseline_score"}``.

    Raises:
        DataError: when ``text`` is not a ``str``.
        ConfigError: for an unknown ``method`` or ``target``, or ``attention`` (attention
            weights are not shares of a probability, so they cannot be combined).
    """
    if not isinstance(text, str):
        raise DataError(f"text is {type(text).__name__}, not str: {text!r:.60}")
    if method not in EXPLAIN_METHODS:
        raise ConfigError(f"method must be one of {', '.join(EXPLAIN_METHODS)}; "
                          f"received {method!r}")
    if method == "attention":
        raise ConfigError("an ensemble is explained with integrated gradients (attention "
                          "weights of different members cannot be combined); use method "
                          "integrated_gradients or auto")
    result = predictor.predict(text)
    label = _target(predictor, result, target)
    members = []
    for weight, member in zip(predictor.config.weights, predictor.members):
        explained = explain(member, text, method="integrated_gradients", target=label,
                            steps=steps)
        members.append({"weight": float(weight), "tokens": explained["tokens"],
                        "attributions": explained["attributions"],
                        "model_score": explained["model_score"],
                        "baseline_score": explained["baseline_score"]})
    shared = [m for m in members if m["tokens"] == members[0]["tokens"]]
    result.update(
        target=label, method="integrated_gradients", tokens=members[0]["tokens"],
        attributions=np.sum([m["weight"] * np.asarray(m["attributions"]) for m in shared],
                            axis=0).tolist(),
        model_score=float(sum(m["weight"] * m["model_score"] for m in shared)),
        baseline_score=float(sum(m["weight"] * m["baseline_score"] for m in shared)),
        members=members)
    return result


def format_explanation(explanation: dict[str, Any]) -> str:
    """Human-readable lines: the prediction, then one ``token<TAB>+0.1234`` line per token."""
    given = (f"{explanation['label']}\t{explanation['score']:.4f}" if "label" in explanation
             else ", ".join(explanation["labels"]) or "(no label)")
    lines = [f"{given}\t({explanation['method'].replace('_', ' ')} for "
             f"{explanation['target']} {explanation['scores'][explanation['target']]:.4f})"]
    for token, score in zip(explanation["tokens"], explanation["attributions"]):
        lines.append(f"  {token}\t{score:+.4f}")
    return "\n".join(lines)
