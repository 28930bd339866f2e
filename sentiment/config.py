"""Frozen configuration dataclasses, saved as ``config.json`` next to the weights.

Training writes the :class:`ClassifierConfig` it used; serving reads the same file back, so
preprocessing (normalization, tokenizer, vocabulary, truncation) and the model can never
disagree between the two. Pure Python: no TensorFlow import.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import ArtifactKind
from .errors import ConfigError, ModelError

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
VOCAB_FILE = "vocab.txt"
METRICS_FILE = "metrics.json"
#: What ``sentiment train`` and ``sentiment forecast train`` write: only an empty directory
#: or one of the same kind is replaced by a new model.
CLASSIFIER_ARTIFACT = ArtifactKind(
    "classifier model directory", required=(CONFIG_FILE, MODEL_FILE, VOCAB_FILE),
    allowed=(CONFIG_FILE, MODEL_FILE, VOCAB_FILE, METRICS_FILE))
FORECASTER_ARTIFACT = ArtifactKind(
    "forecaster model directory", required=(CONFIG_FILE, MODEL_FILE),
    allowed=(CONFIG_FILE, MODEL_FILE, METRICS_FILE))

_CHOICES = {
    "arch": ("lstm", "gru", "bilstm", "bigru", "cnn", "cnn-lstm", "cnn-gru", "fasttext"),
    "pooling": ("last", "mean", "max", "attention"),
    "tokenizer": ("unicode_script", "whitespace", "wordpiece"),
    "truncation": ("head", "head_tail"),
}


def _check_choice(name: str, value: str) -> None:
    if value not in _CHOICES[name]:
        raise ConfigError(f"{name} must be one of {', '.join(_CHOICES[name])}; received {value!r}")


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; received {value!r}")


@dataclass(frozen=True)
class ClassifierConfig:
    """Every preprocessing and model setting of a many-to-one text classifier.

    Attributes:
        arch: recurrent encoder, ``lstm``, ``gru``, ``bilstm`` or ``bigru``; ``cnn`` (Kim 2014
            multi-width Conv1D with max-over-time pooling; needs ``pooling="max"``); or
            ``cnn-lstm`` / ``cnn-gru`` (Conv1D + MaxPooling1D front end feeding ``layers``
            LSTM/GRU layers); or ``fasttext`` (the embeddings of the words and their n-grams
            averaged, then the output layer; Joulin et al. 2017, "Bag of Tricks for Efficient
            Text Classification", EACL; pooling ``mean`` or ``max``).
        embedding_dim: width of the token embeddings.
        units: recurrent units per direction and layer.
        layers: number of stacked recurrent layers.
        pooling: ``last`` (final unmasked state), ``mean`` or ``max`` over unmasked steps, or
            ``attention`` (masked additive attention, Bahdanau et al. 2015, with ``units``
            hidden units); ``None`` (default) resolves to ``mean`` for ``fasttext`` and
            ``max`` for the others.
        ngrams: word n-grams of orders 2..``ngrams`` added to each text's tokens (after
            truncating the words to ``max_length``) and to the vocabulary; 1 (default) for words
            only. Word tokenizers only (not ``wordpiece``).
        dropout: dropout rate before the output layer, in ``[0, 1)``.
        embedding_dropout: rate of ``SpatialDropout1D`` on the token embeddings (whole
            embedding channels dropped for a text, Tompson et al., CVPR 2015), in ``[0, 1)``;
            0 adds no layer.
        max_length: truncation length in tokens.
        truncation: ``head`` keeps the first ``max_length`` tokens; ``head_tail`` keeps the
            first quarter and the last three quarters (Sun et al., 2019, "How to Fine-Tune BERT
            for Text Classification", found head+tail best on IMDB).
        tokenizer: ``unicode_script`` (tensorflow-text ``UnicodeScriptTokenizer``, punctuation
            becomes its own token), ``whitespace``, or ``wordpiece`` (subwords learned from the
            training split, see :mod:`sentiment.text.wordpiece`).
        vocab_size: maximum vocabulary size including padding (id 0) and the OOV token (id 1).
        min_frequency: minimum count in the training split for a token to enter the vocabulary
            (for ``wordpiece``: the lower bound of the learner's count threshold).
        filters: Conv1D filters per kernel width (``cnn*`` architectures).
        kernel_sizes: Conv1D kernel widths in tokens (``cnn*``); one Conv1D per width, their
            features concatenated.
        pool_size: MaxPooling1D window and stride of the ``cnn-lstm`` / ``cnn-gru`` front end.
        labels: display names of the classes, in output order.
        label_values: the raw label values of the training data as strings, aligned with
            ``labels`` (``["0", "1"]`` for IMDB, whose names are negative/positive).
        mixed_precision: Keras dtype policy used in training (``float32``, ``mixed_float16``
            or ``mixed_bfloat16``); the output layer always computes in float32.
        ensemble: number of classifiers trained independently (seeds ``seed``, ``seed + 1``,
            ...; each with its own shuffling, early stopping and weight averaging, all on the
            same vocabulary and validation split) whose probabilities are averaged; 1 (default)
            for a single model. Training and prediction take ``ensemble`` times as long.

    Raises:
        ConfigError: on construction, when a value is out of range.
    """

    arch: str = "gru"
    embedding_dim: int = 128
    units: int = 64
    layers: int = 1
    pooling: str | None = None
    dropout: float = 0.3
    embedding_dropout: float = 0.25
    max_length: int = 600
    truncation: str = "head_tail"
    tokenizer: str = "unicode_script"
    vocab_size: int = 20000
    min_frequency: int = 3
    labels: tuple[str, ...] = ()
    label_values: tuple[str, ...] = ()
    mixed_precision: str = "float32"
    filters: int = 100
    kernel_sizes: tuple[int, ...] = (3, 4, 5)
    pool_size: int = 2
    ngrams: int = 1
    ensemble: int = 1

    def __post_init__(self):
        if self.pooling is None:
            object.__setattr__(self, "pooling", "mean" if self.arch == "fasttext" else "max")
        for name in _CHOICES:
            _check_choice(name, getattr(self, name))
        for name in ("embedding_dim", "units", "layers", "max_length", "min_frequency",
                     "filters", "pool_size", "ensemble"):
            _check_positive(name, getattr(self, name))
        if isinstance(self.kernel_sizes, (str, bytes)) or not self.kernel_sizes:
            raise ConfigError(f"kernel_sizes must be a non-empty sequence of integers >= 1; "
                              f"received {self.kernel_sizes!r}")
        object.__setattr__(self, "kernel_sizes", tuple(self.kernel_sizes))
        for width in self.kernel_sizes:
            _check_positive("each kernel size", width)
        if self.arch == "cnn" and self.pooling != "max":
            raise ConfigError(f"arch cnn pools with max over time (Kim 2014); pooling must be "
                              f"max, received {self.pooling!r}")
        if self.arch == "fasttext" and self.pooling not in ("mean", "max"):
            raise ConfigError(f"arch fasttext averages (or maxes) its token embeddings; pooling "
                              f"must be mean or max, received {self.pooling!r}")
        _check_positive("ngrams", self.ngrams)
        if self.ngrams > 1 and self.tokenizer == "wordpiece":
            raise ConfigError(f"ngrams={self.ngrams} needs a word tokenizer (unicode_script or "
                              "whitespace), not wordpiece")
        _check_positive("vocab_size", self.vocab_size, minimum=3)
        for name in ("dropout", "embedding_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1); received {value!r}")
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        object.__setattr__(self, "label_values", tuple(str(x) for x in self.label_values))
        if self.label_values and len(self.label_values) != len(self.labels):
            raise ConfigError("labels and label_values must have the same length")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def replace(self, **changes: Any) -> "ClassifierConfig":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        data["label_values"] = list(self.label_values)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClassifierConfig":
        """Build from a dict, ignoring unknown keys written by newer versions."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: Texts per model call when predicting (``Predictor``, ``sentiment predict``, ``evaluate`` and
#: ``score``). Texts are sorted by length into batches, so a large batch adds little padding
#: (docs/benchmarks/scoring.md compares 256 with 64).
INFERENCE_BATCH_SIZE = 256

#: Attribution methods of ``Predictor.explain`` (``sentiment predict --explain --method``).
EXPLAIN_METHODS = ("auto", "integrated_gradients", "attention")

#: Learning-rate schedules of :class:`TrainingConfig`.
LEARNING_RATE_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "lazy_adam")


@dataclass(frozen=True)
class TrainingConfig:
    """How a classifier is trained (saved for the record; serving does not need it).

    Attributes:
        epochs: maximum number of passes over the training data.
        batch_size: texts per batch.
        learning_rate: Adam step size (the peak, with a schedule).
        learning_rate_schedule: ``constant``, or ``cosine``: decay from ``learning_rate`` to
            5% of it over the ``epochs`` planned (Loshchilov & Hutter, "SGDR", ICLR 2017,
            without restarts).
        optimizer: ``lazy_adam`` (default): Adam that updates only the embedding rows each
            batch uses (TensorFlow Addons' ``LazyAdam``, see :mod:`sentiment.models.optimizers`);
            faster with large vocabularies (n-grams) and more accurate for the default GRU on
            IMDB (docs/benchmarks/imdb.md); or ``adam`` (Keras' Adam, which moves every
            embedding row at every step).
        validation_fraction: share of the training data held out when no validation data is
            given.
        patience: epochs without improvement of validation loss before early stopping (the
            best weights are restored).
        ema_momentum: keep an exponential moving average of the weights with at most this
            decay per step (:class:`sentiment.models.weight_averaging.WeightAveraging`; 0.995
            averages about the last 200 steps), and use it wherever it has a lower validation
            loss than the last step's weights; 0 keeps the last step's weights.
        adversarial: train also on embeddings perturbed by this L2 norm in the direction that
            most increases the loss (Miyato et al. 2017, the fast gradient method;
            :class:`sentiment.models.adversarial.AdversarialTraining`); each step then costs
            about twice as much; 0 (default) turns it off.
        bucketing: batch texts of similar length together (``tf.data``
            ``bucket_by_sequence_length``); otherwise each batch is padded to its longest text.
        mixed_precision: train under ``mixed_float16`` on GPU or ``mixed_bfloat16`` on CPU.
        seed: seed for shuffling, the validation split and weight initialisation.
    """

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 2e-3
    learning_rate_schedule: str = "constant"
    optimizer: str = "lazy_adam"
    validation_fraction: float = 0.1
    patience: int = 1
    ema_momentum: float = 0.995
    adversarial: float = 0.0
    bucketing: bool = True
    mixed_precision: bool = False
    seed: int = 1337

    def __post_init__(self):
        _check_positive("epochs", self.epochs)
        _check_positive("batch_size", self.batch_size)
        _check_positive("patience", self.patience, minimum=0)
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; received {self.learning_rate!r}")
        if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise ConfigError(f"learning_rate_schedule must be one of "
                              f"{', '.join(LEARNING_RATE_SCHEDULES)}; received "
                              f"{self.learning_rate_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; received "
                              f"{self.optimizer!r}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise ConfigError(f"ema_momentum must be in [0, 1); received {self.ema_momentum!r}")
        if not self.adversarial >= 0.0:
            raise ConfigError(f"adversarial must be >= 0; received {self.adversarial!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be in (0, 1); received {self.validation_fraction!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON."""
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_config_file(model_dir: Path) -> dict[str, Any]:
    """Read ``config.json`` of a model directory.

    Raises:
        ModelError: when the directory or the file is missing or not valid JSON.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist; train one with "
                         "`sentiment train --output DIR` or pass --model DIR")
    path = model_dir / CONFIG_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path} is missing: {model_dir} is not a complete model directory; "
                         "train it again") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path} is corrupted ({error}); train the model again") from None
