"""The Predictor: raw texts in, labels and probabilities out.

It owns preprocessing (the saved tokenizer, vocabulary and truncation), batching by length and
postprocessing into plain dicts, like a Hugging Face ``pipeline``; the CLI wraps it.

    >>> from sentiment import Predictor
    >>> predictor = Predictor.load("~/.sentiment/models/default")
    >>> predictor.predict("what a wonderful film")
    {'label': 'positive', 'score': 0.97, 'scores': {'negative': 0.03, 'positive': 0.97}}
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from .calibration import apply_temperature
from .config import (CONFIG_FILE, INFERENCE_BATCH_SIZE, VOCAB_FILE, ClassifierConfig,
                     default_inference_threads)
from .decisions import ABSTAIN_LABEL, DecisionRule, decision_for
from .errors import ConfigError, DataError
from .text.batching import length_sorted_batches, pad_rows, to_ragged_arrays
from .text.encoder import TextEncoder, valid_utf8
from .text.pipeline import load_encoder

#: Texts encoded per call of the tensorflow-text graph (tokenization is vectorised).
ENCODE_CHUNK = 4096


class Predictor:
    """Classifies raw texts with a trained model.

    Args:
        model: Keras model from ``(batch, time) int32`` ids to ``(batch, classes) float32``
            probabilities.
        encoder: the :class:`TextEncoder` the model was trained with.
        config: the model's :class:`ClassifierConfig` (class names in output order).
        fast_inference: run recurrent classifiers through
            :func:`sentiment.models.inference.inference_function` (no mask inside the
            recurrent loop, the first input projection as a table lookup; the same
            probabilities up to float rounding); ``False`` runs the Keras model as it is.
            The fast path reads the weights once, here: a model trained further afterwards
            needs a new ``Predictor``.
        threads: batches run at once (default :func:`default_inference_threads`); each
            batch's rows land in their own places whatever the order they finish in.
        threshold: the decision threshold in place of the saved one (two-class models: on
            the probability of ``labels[1]``; multi-label models: for every label); see
            :class:`sentiment.decisions.DecisionRule`.
        abstain_below: give ``abstain_label`` instead of a label whose probability is below
            this (single-label models).
        abstain_label: the label given when abstaining (default ``"uncertain"``).

    Use :meth:`load` to read a model directory written by ``sentiment train``.

    Raises:
        ConfigError: for ``threads < 1``, or a ``threshold`` / ``abstain_below`` the model
            cannot take (:class:`~sentiment.decisions.DecisionRule`).
    """

    def __init__(self, model, encoder: TextEncoder, config: ClassifierConfig, *,
                 fast_inference: bool = True, threads: int | None = None,
                 threshold: float | None = None, abstain_below: float | None = None,
                 abstain_label: str = ABSTAIN_LABEL):
        from .models.inference import inference_function

        threads = default_inference_threads() if threads is None else threads
        if not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be an integer >= 1; received {threads!r}")
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.model = model
        self.encoder = encoder
        self.config = config
        #: how probabilities become labels (the saved thresholds, or those given here);
        #: ``None`` for a regression model
        self.decision = decision_for(config, self.task, threshold=threshold,
                                     abstain_below=abstain_below, abstain_label=abstain_label)
        if self.decision is None:
            fast_inference = False  # the fast forward pass ends in a softmax
        forward = inference_function(model) if fast_inference else None
        self.fast_inference = forward is not None
        self._forward = tf.function(
            forward or (lambda ids: model(ids, training=False)),
            input_signature=[tf.TensorSpec((None, None), tf.int32)], reduce_retracing=True)
        # the text pipeline as one graph: run eagerly, its few thousand tensorflow-text ops
        # cost a dispatch each, whatever the number of texts. One eager call first creates
        # the lookup tables outside the graph, where explain() and export use them too.
        encoder.encode(tf.constant([""]))
        self._encode = tf.function(encoder.encode,
                                   input_signature=[tf.TensorSpec((None,), tf.string)])

    #: what the model reads (a :class:`~sentiment.sequences.predictor.SequencePredictor`
    #: reads ``"sequences"``)
    inputs = "texts"

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names, in the column order of :meth:`predict_proba` (``()`` for a
        regression model)."""
        return self.config.labels

    @property
    def task(self) -> str:
        """``classification``, or ``regression`` (:meth:`predict_values`)."""
        return getattr(self.config, "task", "classification")

    @property
    def multi_label(self) -> bool:
        """Whether each label has its own probability and a text may get several."""
        return bool(getattr(self.config, "multi_label", False))

    @classmethod
    def load(cls, model_dir: str | Path, *, fast_inference: bool = True,
             threads: int | None = None, **decision: Any) -> "Predictor":
        """Load a model directory (``model.keras``, ``vocab.txt``, ``config.json``);
        ``fast_inference``, ``threads`` and the ``decision`` keywords (``threshold``,
        ``abstain_below``, ``abstain_label``) as in the constructor.

        The sizes and SHA-256 digests that ``config.json`` records for ``vocab.txt`` and
        ``model.keras`` are checked first, then that the model's embedding reads ids of the
        vocabulary's size and that it outputs one probability per configured label.

        A directory written by ``sentiment ensemble`` loads as an :class:`EnsemblePredictor`;
        one written by ``sentiment train --sequence-column`` as a
        :class:`~sentiment.sequences.predictor.SequencePredictor` (``decision`` keywords
        only).

        Raises:
            ModelError: when the directory is missing, incomplete or corrupted, holds no
                classifier, when a file differs from the one recorded at training time, or
                when the vocabulary or the labels do not fit the model (the message names the
                file); see :func:`sentiment.models.saving.load_model_directory`.
        """
        from .models import classifier  # noqa: F401  registers the custom layers
        from .models.saving import check_classifier_fits, is_ensemble, load_model_directory

        from .models.saving import is_sequence_model
        from .sequences.predictor import SequencePredictor

        if is_sequence_model(model_dir):  # sequences of vectors, not texts
            return SequencePredictor.load(model_dir, **decision)
        if is_ensemble(model_dir):  # a `sentiment ensemble` directory
            return EnsemblePredictor.load(model_dir, fast_inference=fast_inference,
                                          threads=threads, **decision)
        loaded = load_model_directory(model_dir, "classifier", ClassifierConfig.from_dict)
        config, model = loaded.config, loaded.model
        encoder = load_encoder(config, loaded.path)
        check_classifier_fits(model, encoder.vocabulary.vocabulary_size(),
                              ("value",) if config.regression else config.labels,
                              loaded.path / VOCAB_FILE, loaded.path / CONFIG_FILE)
        return cls(model, encoder, config, fast_inference=fast_inference,
                   threads=threads, **decision)

    @staticmethod
    def _check_texts(texts: Sequence[Any]) -> list[str]:
        """``texts`` as a list of valid Unicode strings (:func:`valid_utf8`).

        Raises:
            DataError: naming the index of an item that is not a ``str``.
        """
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"texts[{index}] is {type(text).__name__}, not str: "
                                f"{text!r:.60}")
            texts[index] = valid_utf8(text)
        return texts

    @classmethod
    def _check_inputs(cls, texts: Sequence[Any], batch_size: int) -> list[str]:
        """:meth:`_check_texts` after checking ``batch_size``.

        Raises:
            ConfigError: when ``batch_size < 1``.
            DataError: as :meth:`_check_texts`.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1; received {batch_size!r}")
        return cls._check_texts(texts)

    def predict_proba(self, texts: Sequence[str],
                      batch_size: int = INFERENCE_BATCH_SIZE, *,
                      calibrated: bool = True) -> np.ndarray:
        """Class probabilities ``(len(texts), classes) float32``, rows in input order
        (rows sum to 1; for a multi-label model, one independent probability per label).

        The probabilities are the model's scaled by its :attr:`temperature` (temperature
        scaling, :mod:`sentiment.calibration`); ``calibrated=False`` gives the model's own. Texts are encoded in blocks of
        ``ENCODE_CHUNK`` (the next block while the model runs on the current one) and batched
        by token length within each block (less padding); padding never changes a result. An empty or whitespace-only text is read as one OOV
        token.

        Raises:
            DataError: when an item is not a ``str`` (the message names its index).
            ConfigError: when ``batch_size < 1``.
        """
        if self.task == "regression":
            raise ConfigError("a regression model has no class probabilities; use "
                              "predict_values")
        texts = self._check_inputs(texts, batch_size)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        self._predict_blocks(texts, batch_size, out)
        return (apply_temperature(out, self.temperature, multi_label=self.multi_label)
                if calibrated else out)

    def predict_values(self, texts: Sequence[str],
                       batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """A regression model's predictions ``(len(texts),) float64`` in the targets' units
        (the model's standardized output times the training targets' standard deviation
        plus their mean, clipped to ``clip_range`` when the model has one), input order.

        Raises:
            DataError: when an item is not a ``str`` (the message names its index).
            ConfigError: a classification model, or ``batch_size < 1``.
        """
        if self.task != "regression":
            raise ConfigError("a classification model gives class probabilities; use "
                              "predict_proba")
        texts = self._check_inputs(texts, batch_size)
        out = np.zeros((len(texts), 1), dtype=np.float32)
        self._predict_blocks(texts, batch_size, out)
        values = out[:, 0].astype(np.float64) * self.config.target_std + self.config.target_mean
        if self.config.clip_range is not None:
            values = np.clip(values, *self.config.clip_range)
        return values

    @property
    def temperature(self) -> float:
        """The temperature :meth:`predict_proba` scales the model's probabilities by
        (``ClassifierConfig.temperature``; 1.0: none)."""
        return float(getattr(self.config, "temperature", 1.0))

    def _predict_blocks(self, texts: list[str], batch_size: int, out: np.ndarray) -> None:
        """The model's probabilities of ``texts`` into ``out`` ``(n, classes)``."""
        blocks = [(start, texts[start:start + ENCODE_CHUNK])
                  for start in range(0, len(texts), ENCODE_CHUNK)]
        if len(blocks) <= 1:
            for start, block in blocks:
                self._predict_block(self._encode_block(block), batch_size, out[start:])
            return
        # The tensorflow-text kernels tokenize on one core: the next block is encoded in a
        # thread while the model runs on this one (TensorFlow releases the GIL inside its
        # ops; docs/benchmarks/scoring.md measures the gain).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment-encode") as pool:
            encoded = pool.submit(self._encode_block, blocks[0][1])
            for index, (start, _) in enumerate(blocks):
                ids = encoded.result()
                if index + 1 < len(blocks):
                    encoded = pool.submit(self._encode_block, blocks[index + 1][1])
                self._predict_block(ids, batch_size, out[start:])

    def encode_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The model's token ids of each text: one ``(length,) int32`` array per text,
        length >= 1 (at most ``max_length`` tokens, truncated as configured; an empty text
        is one OOV token), as :meth:`predict_proba` feeds them to the model.

        Raises:
            DataError: when an item is not a ``str`` (the message names its index).
        """
        texts = self._check_texts(texts)
        rows = []
        for start in range(0, len(texts), ENCODE_CHUNK):
            flat, splits = self._encode_block(texts[start:start + ENCODE_CHUNK])
            rows += np.split(flat, splits[1:-1])
        return rows

    def stepper(self, chunk_steps: int | None = None):
        """A :class:`sentiment.models.streaming.RecurrentStepper` over this model's weights
        and :attr:`temperature` (continuous batching, for a server), or ``None`` when the
        model is not a forward-only recurrent single-label classifier with max, mean or last
        pooling (a regression model neither), or runs without ``fast_inference``.

        Raises:
            ValueError: when ``chunk_steps < 1``.
        """
        from .models.streaming import DEFAULT_CHUNK_STEPS, recurrent_stepper

        if not self.fast_inference or self.multi_label or self.task == "regression":
            return None
        return recurrent_stepper(self.model,
                                 DEFAULT_CHUNK_STEPS if chunk_steps is None else chunk_steps,
                                 self.temperature)

    def _encode_block(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of at most ``ENCODE_CHUNK`` texts: ``(flat_values int32, row_splits int64)``."""
        return to_ragged_arrays(self._encode(tf.constant(texts, dtype=tf.string)))

    def _predict_block(self, ids: tuple[np.ndarray, np.ndarray], batch_size: int,
                       out: np.ndarray) -> None:
        """Probabilities of one encoded block into ``out[:rows]``, in batches of texts of
        similar length (padded to the longest in the batch)."""
        flat, splits = ids

        def run(rows):
            out[rows] = self._forward(tf.constant(pad_rows(flat, splits, rows))).numpy()

        batches = list(length_sorted_batches(np.diff(splits), batch_size))
        if self.threads == 1 or len(batches) == 1:
            for rows in batches:
                run(rows)
            return
        # independent batches side by side (TensorFlow releases the GIL inside its ops);
        # each writes only its own rows of out
        list(self._batch_pool().map(run, batches))

    def _batch_pool(self) -> ThreadPoolExecutor:
        """The threads that run batches, started on first use."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.threads,
                                                thread_name_prefix="sentiment-predict")
            return self._pool

    def postprocess(self, probabilities: np.ndarray) -> dict[str, Any]:
        """One row of probabilities ``(classes,)`` -> ``{"label", "score", "scores"}``
        (``score``: the probability of the label given; ``label`` is the abstain label where
        :attr:`decision` abstains), or ``{"labels": [...], "scores": {...}}`` for a
        multi-label model (:meth:`sentiment.decisions.DecisionRule.postprocess`); for a
        regression model, a value -> ``{"value": v}``."""
        if self.decision is None:
            return {"value": float(np.asarray(probabilities).reshape(-1)[0])}
        return self.decision.postprocess(probabilities)

    def decide(self, probabilities: np.ndarray) -> list:
        """Per row of ``(n, classes)`` probabilities, the label name given (single-label)
        or the list of label names (multi-label), by :attr:`decision`."""
        return self.decision.decide(probabilities)

    def predict(self, texts: str | Sequence[str], batch_size: int = INFERENCE_BATCH_SIZE):
        """Classify one text or a list of texts.

        Args:
            texts: a ``str``, or a sequence of ``str``.
            batch_size: texts per model call.

        Returns:
            For a ``str``: ``{"label": "positive", "score": 0.97, "scores": {"negative": 0.03,
            "positive": 0.97}}`` (a multi-label model: ``{"labels": ["joy", "love"],
            "scores": {...}}``; a regression model: ``{"value": 7.8}``). For a sequence: a
            list of such dicts in input order.

        Raises:
            DataError: when an item is not a ``str`` (naming its index).
        """
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        outputs = (self.predict_values(batch, batch_size)[:, None]
                   if self.task == "regression" else self.predict_proba(batch, batch_size))
        results = [self.postprocess(row) for row in outputs]
        return results[0] if single else results

    def explain(self, text: str, *, method: str = "auto", target: str | None = None,
                steps: int = 50) -> dict[str, Any]:
        """Per-token attributions of the prediction for ``text``.

        Integrated gradients on the embeddings (Sundararajan et al. 2017), or the attention
        weights of a model trained with ``pooling="attention"``; see
        :func:`sentiment.explain.explain` for ``method``, ``target``, ``steps`` and errors.

        Returns:
            :meth:`predict`'s dict (``labels`` for a multi-label model) plus ``"target"``
            (default: the label chosen, or a multi-label model's most probable one),
            ``"method"``, ``"tokens"`` (n strings) and ``"attributions"`` (n floats, one per
            token).
        """
        from .explain import explain

        if self.task == "regression":
            raise ConfigError("explanations are for classifiers; this model is a regression "
                              "model")
        return explain(self, text, method=method, target=target, steps=steps)


class EnsemblePredictor(Predictor):
    """A :class:`Predictor` over an ensemble directory (``sentiment ensemble``,
    :mod:`sentiment.ensemble`): each member classifies the texts with its own text pipeline,
    model and temperature, and the probabilities are the weighted mean of the members'
    ``(n, classes) float32``; the ensemble's own decision rule (its saved thresholds, or the
    prediction-time ``threshold`` / ``abstain_below``) turns them into labels.

    Args:
        members: one :class:`Predictor` per member, in the order of ``config.members``.
        config: the :class:`~sentiment.config.EnsembleConfig` (weights, labels, thresholds).
        threshold, abstain_below, abstain_label: as :class:`Predictor`.

    Raises:
        ConfigError: when the members do not match ``config`` (count or labels), or as
            :class:`~sentiment.decisions.DecisionRule` for the decision keywords.
    """

    def __init__(self, members: Sequence[Predictor], config, *, threshold: float | None = None,
                 abstain_below: float | None = None, abstain_label: str = ABSTAIN_LABEL):
        members = list(members)
        if len(members) != len(config.weights):
            raise ConfigError(f"the ensemble has {len(config.weights)} weights but "
                              f"{len(members)} members were given")
        for index, member in enumerate(members):
            if tuple(member.labels) != tuple(config.labels):
                raise ConfigError(f"member {index} has labels {list(member.labels)}, the "
                                  f"ensemble {list(config.labels)}")
        self.members = members
        self.config = config
        self.threads = members[0].threads
        self.fast_inference = all(member.fast_inference for member in members)
        self.decision = DecisionRule.for_config(config, threshold=threshold,
                                                abstain_below=abstain_below,
                                                abstain_label=abstain_label)

    @classmethod
    def load(cls, model_dir: str | Path, *, fast_inference: bool = True,
             threads: int | None = None, **decision: Any) -> "EnsemblePredictor":
        """Load an ensemble directory: ``config.json`` and every recorded file (the
        members' included) are checked first, then each member loads as
        :meth:`Predictor.load` does; the keywords as there.

        Raises:
            ModelError: as :meth:`Predictor.load`, for the ensemble's files or a member's.
        """
        from .models.saving import read_ensemble_config

        path = Path(model_dir).expanduser()
        _, config = read_ensemble_config(path)
        members = [Predictor.load(path / member, fast_inference=fast_inference,
                                  threads=threads) for member in config.members]
        return cls(members, config, **decision)

    def predict_proba(self, texts: Sequence[str],
                      batch_size: int = INFERENCE_BATCH_SIZE, *,
                      calibrated: bool = True) -> np.ndarray:
        """The weighted mean of the members' probabilities ``(len(texts), classes)
        float32`` (each member's scaled by its own temperature; ``calibrated=False``: the
        members' own, unscaled), rows in input order.

        Raises:
            DataError: when an item is not a ``str`` (the message names its index).
            ConfigError: when ``batch_size < 1``.
        """
        texts = self._check_inputs(texts, batch_size)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        for weight, member in zip(self.config.weights, self.members):
            out += weight * member.predict_proba(texts, batch_size, calibrated=calibrated)
        return out.astype(np.float32)

    def encode_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Not defined for an ensemble: each member has its own tokenizer and vocabulary
        (``members[k].encode_ids``).

        Raises:
            TypeError: always.
        """
        raise TypeError("an ensemble has no single token ids: each member encodes texts "
                        "with its own tokenizer and vocabulary (use members[k].encode_ids)")

    def stepper(self, chunk_steps: int | None = None):
        """``None``: an ensemble is served with dynamic batching over :meth:`predict_proba`."""
        return None

    def explain(self, text: str, *, method: str = "auto", target: str | None = None,
                steps: int = 50) -> dict[str, Any]:
        """Integrated gradients of each member for the ensemble's label, combined by the
        ensemble's weights: see :func:`sentiment.explain.explain_ensemble`."""
        from .explain import explain_ensemble

        return explain_ensemble(self, text, method=method, target=target, steps=steps)
