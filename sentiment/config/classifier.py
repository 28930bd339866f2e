"""The text classifier's configurations: :class:`ClassifierConfig` (saved with the model and
read back when serving) and :class:`TrainingConfig` (how it was trained), with the choices of
their settings."""

from __future__ import annotations

import os

from dataclasses import dataclass

from ..errors import ConfigError
from .fields import ENSEMBLE_HELP, SEED_HELP, ConfigBase, check_settings, setting
from .sequence import REGRESSION_LOSSES

ARCHITECTURES = ("lstm", "gru", "bilstm", "bigru", "cnn", "cnn-lstm", "cnn-gru", "fasttext")
POOLINGS = ("last", "mean", "max", "attention")
TOKENIZERS = ("unicode_script", "whitespace", "wordpiece")
TRUNCATIONS = ("head", "head_tail")
#: Keras dtype policies a classifier is trained under (``ClassifierConfig.dtype_policy``).
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
#: Learning-rate schedules and optimizers of :class:`TrainingConfig`.
LEARNING_RATE_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "lazy_adam")
#: Attribution methods of ``Predictor.explain`` (``sentiment predict --explain --method``).
EXPLAIN_METHODS = ("auto", "integrated_gradients", "attention")
#: What a multi-label model gives a text no label reaches the threshold of: no label, or its
#: single most probable one (``ClassifierConfig.if_no_label``).
IF_NO_LABEL = ("empty", "top")
#: The label given where a prediction abstains (``--abstain-below``; ``--abstain-label``).
ABSTAIN_LABEL = "uncertain"
#: How training chooses decision thresholds on the validation split
#: (``TrainingConfig.tune_threshold``): ``auto`` is ``f1`` for multi-label models, else none.
THRESHOLD_TUNING = ("auto", "none", "f1", "accuracy")
#: One threshold per label, or one for all (``TrainingConfig.label_thresholds``).
LABEL_THRESHOLDS = ("per_label", "global")

#: Texts per model call when predicting (``Predictor``, ``sentiment predict``, ``evaluate`` and
#: ``score``). Texts are sorted by length into batches, so a large batch adds little padding
#: (docs/benchmarks/scoring.md compares 256 with 64).
INFERENCE_BATCH_SIZE = 256


def default_inference_threads() -> int:
    """Batches run at once when predicting (``Predictor(threads=...)``, ``sentiment serve
    --concurrent-batches``): one per core, at most 4.

    A recurrent model's loop is a chain of small operations that keeps about one core busy,
    so independent batches run side by side fill the others (docs/benchmarks/scoring.md).
    """
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ClassifierConfig(ConfigBase):
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
        filters: Conv1D filters per kernel width (``cnn*`` architectures).
        kernel_sizes: Conv1D kernel widths in tokens (``cnn*``); one Conv1D per width, their
            features concatenated.
        pool_size: MaxPooling1D window and stride of the ``cnn-lstm`` / ``cnn-gru`` front end.
        pooling: ``last`` (final unmasked state), ``mean`` or ``max`` over unmasked steps, or
            ``attention`` (masked additive attention, Bahdanau et al. 2015, with ``units``
            hidden units); ``None`` (default) resolves to ``mean`` for ``fasttext`` and
            ``max`` for the others.
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
        ngrams: word n-grams of orders 2..``ngrams`` added to each text's tokens (after
            truncating the words to ``max_length``) and to the vocabulary; 1 (default) for words
            only. Word tokenizers only (not ``wordpiece``).
        ensemble: number of classifiers trained independently (seeds ``seed``, ``seed + 1``,
            ...; each with its own shuffling, early stopping and weight averaging, all on the
            same vocabulary and validation split) whose probabilities are averaged; 1 (default)
            for a single model. Training and prediction take ``ensemble`` times as long.
        labels: display names of the classes, in output order.
        label_values: the raw label values of the training data as strings, aligned with
            ``labels`` (``["0", "1"]`` for IMDB, whose names are negative/positive).
        dtype_policy: the Keras dtype policy the model was trained under (``float32``,
            ``mixed_float16`` or ``mixed_bfloat16``; filled in by training from
            ``TrainingConfig.mixed_precision``); the output layer always computes in float32.
            Files written before it had this name hold it under ``mixed_precision``.
        temperature: the temperature the predicted probabilities are scaled by,
            ``softmax(log(p) / temperature)`` (:mod:`sentiment.calibration`, Guo et al. 2017);
            fitted on the validation split by training, 1.0 (no scaling) without
            ``TrainingConfig.calibration`` and in files written before it. For multi-label
            models each label's probability is scaled alone, ``sigmoid(logit(p) / T)``.
        multi_label: each text may have any number of the labels (none, one or several): one
            sigmoid probability per label and binary cross-entropy, instead of a softmax over
            classes.
        threshold: two-class models: the decision threshold on the probability of
            ``labels[1]`` (``TrainingConfig.tune_threshold``), ``None`` for the argmax;
            multi-label models: one threshold for all labels, in place of ``thresholds``.
        thresholds: multi-label models: the decision threshold of each label, tuned on the
            validation split by training (``()``: 0.5 for each).
        if_no_label: multi-label models: what a text gets when no label reaches its threshold:
            ``empty`` (no label) or ``top`` (its single most probable label).
        task: ``classification`` (default), or ``regression``: one linear float32 output
            (named ``value``) trained on standardized numeric targets (``sentiment train
            --task regression``); ``labels`` is then empty.
        target_mean, target_std: regression: the training targets' mean and standard
            deviation; predictions are ``output * target_std + target_mean``.
        clip_range: regression: ``(low, high)`` the predictions are clipped to, or ``None``.

    Raises:
        ConfigError: on construction, when a value is out of range.
    """

    RENAMED = {"mixed_precision": "dtype_policy"}

    arch: str = setting("gru", choices=ARCHITECTURES)
    embedding_dim: int = setting(128, min=1)
    units: int = setting(64, min=1, help="Recurrent units per direction.")
    layers: int = setting(1, min=1, help="Stacked recurrent layers.")
    filters: int = setting(100, min=1,
                           help="Conv1D filters per kernel width (cnn, cnn-lstm, cnn-gru).")
    kernel_sizes: tuple[int, ...] = setting(
        (3, 4, 5), min=1, item="kernel size",
        help="Conv1D kernel widths in tokens, comma-separated (cnn*).")
    pool_size: int = setting(2, min=1,
                             help="MaxPooling1D window of the cnn-lstm/cnn-gru front end.")
    pooling: str | None = setting(
        None, choices=POOLINGS,
        help="Pooling over time (respects the mask).  [default: max; mean for fasttext]")
    dropout: float = setting(0.3, min=0.0, max=1.0, max_open=True,
                             help="Dropout rate before the output layer.")
    embedding_dropout: float = setting(0.25, min=0.0, max=1.0, max_open=True,
                                       help="SpatialDropout1D rate on the token embeddings.")
    max_length: int = setting(600, min=1, help="Truncate texts to this many tokens.")
    truncation: str = setting(
        "head_tail", choices=TRUNCATIONS,
        help="Keep the first tokens, or the first quarter and the last three quarters.")
    tokenizer: str = setting("unicode_script", choices=TOKENIZERS)
    vocab_size: int = setting(20000, min=3,
                              help="Maximum vocabulary size, padding and OOV token included.")
    min_frequency: int = setting(
        3, min=1, help="Minimum count of a token in the training split to enter the vocabulary.")
    ngrams: int = setting(1, min=1, help="Add word n-grams up to this order to the tokens and "
                          "the vocabulary (2: bigrams, as fastText; word tokenizers only).")
    ensemble: int = setting(1, min=1, help=ENSEMBLE_HELP)
    labels: tuple[str, ...] = ()
    label_values: tuple[str, ...] = ()
    dtype_policy: str = setting("float32", choices=DTYPE_POLICIES, cli=False)
    temperature: float = setting(1.0, min=0.0, min_open=True, cli=False)
    multi_label: bool = setting(
        False, negative=False,
        help="Texts may have several labels each (a delimited string or a list per row): "
        "one sigmoid output per label, a threshold per label tuned on validation.")
    threshold: float | None = setting(None, min=0.0, max=1.0, cli=False)
    thresholds: tuple[float, ...] = setting((), cli=False)
    task: str = setting("classification", choices=("classification", "regression"), cli=False)
    target_mean: float = setting(0.0, cli=False)
    target_std: float = setting(1.0, min=0.0, min_open=True, cli=False)
    clip_range: tuple[float, float] | None = setting(None, cli=False)
    if_no_label: str = setting(
        "empty", choices=IF_NO_LABEL,
        help="Multi-label: what a text gets when no label reaches its threshold: no label "
        "(empty) or its most probable one (top).")

    def __post_init__(self):
        if self.pooling is None:
            object.__setattr__(self, "pooling", "mean" if self.arch == "fasttext" else "max")
        check_settings(self)
        if self.arch == "cnn" and self.pooling != "max":
            raise ConfigError(f"arch cnn pools with max over time (Kim 2014); pooling must be "
                              f"max, received {self.pooling!r}")
        if self.arch == "fasttext" and self.pooling not in ("mean", "max"):
            raise ConfigError(f"arch fasttext averages (or maxes) its token embeddings; pooling "
                              f"must be mean or max, received {self.pooling!r}")
        if self.ngrams > 1 and self.tokenizer == "wordpiece":
            raise ConfigError(f"ngrams={self.ngrams} needs a word tokenizer (unicode_script or "
                              "whitespace), not wordpiece")
        if self.clip_range is not None:
            clip = tuple(float(x) for x in self.clip_range)
            if len(clip) != 2 or not clip[0] < clip[1] or self.task != "regression":
                raise ConfigError(f"clip_range must be (low, high) with low < high, for a "
                                  f"regression model; received {self.clip_range!r}")
            object.__setattr__(self, "clip_range", clip)
        if self.task == "regression" and (self.multi_label or self.labels):
            raise ConfigError("a regression model has no labels (and is not multi-label)")
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        object.__setattr__(self, "label_values", tuple(str(x) for x in self.label_values))
        if self.label_values and len(self.label_values) != len(self.labels):
            raise ConfigError("labels and label_values must have the same length")
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if any(not 0.0 <= t <= 1.0 for t in self.thresholds):
            raise ConfigError(f"thresholds must be probabilities in [0, 1]; received "
                              f"{list(self.thresholds)}")
        if self.thresholds and self.labels and len(self.thresholds) != len(self.labels):
            raise ConfigError(f"thresholds has {len(self.thresholds)} values for "
                              f"{len(self.labels)} labels")
        if (self.threshold is not None and not self.multi_label and self.labels
                and len(self.labels) != 2):
            raise ConfigError(f"threshold needs a two-class model; this one has "
                              f"{len(self.labels)} classes")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def num_outputs(self) -> int:
        """The width of the model's output: the classes, or 1 for regression."""
        return 1 if self.regression else len(self.labels)


@dataclass(frozen=True)
class TrainingConfig(ConfigBase):
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
        virtual_adversarial: also minimize the virtual adversarial loss (Miyato et al. 2017)
            with perturbations of this L2 norm on the word embeddings of unlabelled texts
            (``train_classifier(unlabelled=...)``, ``--unlabelled``; of the training texts when
            none are given): :class:`sentiment.models.adversarial.VirtualAdversarialTraining`;
            0 (default) turns it off.
        pretrained: a language model directory from ``sentiment pretrain`` whose tokenizer,
            vocabulary, embedding and recurrent layers the classifier starts from (ULMFiT,
            Howard & Ruder 2018); ``None`` (default) trains from scratch.
        freeze_epochs: with ``pretrained``: epochs that train only the new layers (pooling
            and output) before ``epochs`` of the whole model; 0 for none.
        discriminative_decay: with ``pretrained``: each layer group's learning rate is the
            one above it divided by this (output layers, then each recurrent layer from the
            top, then the embedding; ULMFiT's discriminative fine-tuning uses 2.6); 1 gives
            every layer ``learning_rate``.
        bucketing: batch texts of similar length together (``tf.data``
            ``bucket_by_sequence_length``); otherwise each batch is padded to its longest text.
        mixed_precision: train under ``mixed_float16`` on GPU or ``mixed_bfloat16`` on CPU (the
            policy used is saved as ``ClassifierConfig.dtype_policy``).
        class_weight: ``none``, ``balanced`` (each class's loss weighted by
            ``n_examples / (n_classes * count)``, scikit-learn's definition) or the path of a
            JSON object of class (name or raw value) -> weight
            (:func:`sentiment.labels.class_weights`); for imbalanced training data.
        tune_threshold: choose the decision threshold on the validation split, after
            calibration, for the best ``f1`` (of ``labels[1]`` for two classes; of each label
            for multi-label models) or ``accuracy``; ``none`` keeps the argmax (0.5 per label
            for multi-label models); ``auto`` (default): ``f1`` for multi-label models, else
            ``none``. Saved as ``ClassifierConfig.threshold`` / ``thresholds``. Two-class and
            multi-label models only.
        label_thresholds: multi-label models: tune one threshold per label (``per_label``) or
            one for all labels (``global``, for the best micro F1).
        calibration: after training, fit a temperature on the validation split by minimizing
            its log loss (temperature scaling, Guo et al., ICML 2017), saved as
            ``ClassifierConfig.temperature`` and applied wherever the model predicts.
        regression_loss: ``mse``, ``huber`` (Huber with delta 1 on the standardized
            targets) or ``mae`` (mean absolute error), for ``ClassifierConfig.task ==
            "regression"`` (:func:`sentiment.models.losses.regression_loss`).
        seed: seed for shuffling, the validation split and weight initialisation.
    """

    epochs: int = setting(3, min=1)
    batch_size: int = setting(64, min=1, help="Texts per training batch.")
    learning_rate: float = setting(2e-3, min=0, min_open=True, help="Adam's peak learning rate.")
    learning_rate_schedule: str = setting(
        "constant", choices=LEARNING_RATE_SCHEDULES,
        help="constant, or cosine: decay to 5% of the peak over the planned epochs.")
    optimizer: str = setting(
        "lazy_adam", choices=OPTIMIZERS,
        help="lazy_adam: Adam updating only the embedding rows a batch uses (faster, and less "
        "drift of rare words' embeddings); adam: Keras' Adam.")
    validation_fraction: float = setting(
        0.1, min=0.0, max=1.0, min_open=True, max_open=True,
        help="Share of the training data held out when no validation file is given.")
    patience: int = setting(
        1, min=0, help="Epochs without improvement of validation loss before stopping.")
    ema_momentum: float = setting(
        0.995, min=0.0, max=1.0, max_open=True,
        help="Keep a moving average of the weights with this decay per step, and save it where "
        "it validates better than the last step's weights; 0 for no average.")
    adversarial: float = setting(
        0.0, min=0.0, metavar="EPSILON",
        help="Adversarial training: also train on embeddings perturbed by this L2 norm towards "
        "a higher loss (Miyato et al. 2017); about twice the training time; 0 for none.")
    virtual_adversarial: float = setting(
        0.0, min=0.0, metavar="EPSILON",
        help="Virtual adversarial training: also make predictions on unlabelled texts "
        "(--unlabelled; else the training texts) stable under embedding perturbations of this "
        "L2 norm (Miyato et al. 2017); 0 for none.")
    pretrained: str | None = setting(
        None, metavar="DIR",
        help="Start from a language model of `sentiment pretrain`: its tokenizer, vocabulary, "
        "embedding and recurrent layers.")
    freeze_epochs: int = setting(
        0, min=0, help="With --pretrained: epochs training only the new layers first.")
    discriminative_decay: float = setting(
        1.0, min=1.0, help="With --pretrained: divide the learning rate by this per layer "
        "group downwards from the output (ULMFiT: 2.6); 1 for one rate.")
    bucketing: bool = setting(True, help="Batch texts of similar length together.")
    mixed_precision: bool = setting(False, negative=False,
                                    help="mixed_float16 on GPU, mixed_bfloat16 on CPU.")
    class_weight: str = setting(
        "none", metavar="balanced|none|FILE",
        help="Loss weight per class: balanced (inverse class frequency, as scikit-learn), "
        "none, or a JSON file of class -> weight.")
    tune_threshold: str = setting(
        "auto", choices=THRESHOLD_TUNING,
        help="Choose the decision threshold on the validation split for the best f1 or "
        "accuracy (two-class and multi-label models); auto: f1 for multi-label, else none.")
    label_thresholds: str = setting(
        "per_label", choices=LABEL_THRESHOLDS,
        help="Multi-label: tune a threshold per label, or one for all (global).")
    calibration: bool = setting(
        True, help="Fit a temperature on the validation split after training (temperature "
        "scaling), so the probabilities match how often they are right.")
    regression_loss: str = setting("mse", choices=REGRESSION_LOSSES, cli=False)
    seed: int = setting(1337, help=SEED_HELP)

    def __post_init__(self):
        check_settings(self)
        if not self.pretrained:
            for name, default in (("freeze_epochs", 0), ("discriminative_decay", 1.0)):
                if getattr(self, name) != default:
                    raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)} "
                                      "fine-tunes a pretrained model; give --pretrained DIR")
