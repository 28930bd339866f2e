"""The language model's configurations: :class:`LanguageModelConfig` (saved with the model and
read back by ``sentiment train --pretrained``) and :class:`PretrainingConfig` (how it was
trained), with the choices of their settings. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass

from .classifier import OPTIMIZERS, TOKENIZERS
from .fields import SEED_HELP, ConfigBase, check_settings, setting

#: The recurrent kinds a language model (and so a classifier fine-tuned from it) may have.
LANGUAGE_MODEL_ARCHITECTURES = ("gru", "lstm")
#: The classifier settings a pretrained language model fixes, and its settings they come from.
PRETRAINED_SETTINGS = ("arch", "embedding_dim", "units", "layers", "tokenizer", "vocab_size",
                       "min_frequency", "ngrams")


@dataclass(frozen=True)
class LanguageModelConfig(ConfigBase):
    """A next-token recurrent language model over a classifier's text pipeline.

    ``(batch, time) int32`` ids -> ``Embedding(mask_zero=True)`` -> ``layers`` GRU/LSTM of
    ``units`` -> dropout -> a softmax over the vocabulary, ``(batch, time, vocabulary)``
    logits. Its embedding and recurrent layers have the names and shapes of a classifier's
    with the same settings, so ``sentiment train --pretrained`` copies them by name.

    Attributes:
        arch: ``gru`` or ``lstm`` (one direction: a language model reads left to right).
        embedding_dim: width of the token embeddings.
        units: recurrent units per layer.
        layers: stacked recurrent layers.
        dropout: dropout rate on the last recurrent layer's outputs, before the softmax.
        embedding_dropout: ``SpatialDropout1D`` rate on the token embeddings.
        tokenizer: as :attr:`ClassifierConfig.tokenizer`, ``unicode_script`` or
            ``whitespace`` (a word vocabulary; ``wordpiece`` is not supported for
            pretraining).
        vocab_size: maximum vocabulary size: padding (id 0), the OOV token (id 1) and the
            document boundary token ``[EOD]`` (id 2) included. (``unicode_script`` splits a
            literal "[EOD]" in a text into three tokens; ``whitespace`` reads it as the
            boundary.)
        min_frequency: minimum count of a token in the pretraining texts to enter the
            vocabulary.
        sequence_length: tokens per training window (truncated backpropagation through
            time over windows of this length; ULMFiT, Howard & Ruder 2018, uses 70).
        num_sampled: negative classes per batch of sampled softmax (``tf.nn.
            sampled_softmax_loss``, Jean et al. 2015, "On Using Very Large Target
            Vocabulary for Neural Machine Translation"); held-out perplexity uses the full
            softmax.

    Raises:
        ConfigError: on construction, when a value is out of range.
    """

    arch: str = setting("gru", choices=LANGUAGE_MODEL_ARCHITECTURES)
    embedding_dim: int = setting(128, min=1)
    units: int = setting(256, min=1, help="Recurrent units per layer.")
    layers: int = setting(1, min=1, help="Stacked recurrent layers.")
    dropout: float = setting(0.1, min=0.0, max=1.0, max_open=True,
                             help="Dropout rate before the softmax.")
    embedding_dropout: float = setting(0.1, min=0.0, max=1.0, max_open=True,
                                       help="SpatialDropout1D rate on the token embeddings.")
    tokenizer: str = setting("unicode_script", choices=TOKENIZERS[:2])
    vocab_size: int = setting(20000, min=4, help="Maximum vocabulary size, padding, OOV and "
                              "the [EOD] document boundary token included.")
    min_frequency: int = setting(3, min=1, help="Minimum count of a token in the pretraining "
                                 "texts to enter the vocabulary.")
    sequence_length: int = setting(70, min=2, help="Tokens per training window "
                                   "(truncated backpropagation through time).")
    num_sampled: int = setting(512, min=1, help="Negative classes sampled per batch for the "
                               "sampled softmax.")

    def __post_init__(self):
        check_settings(self)


@dataclass(frozen=True)
class PretrainingConfig(ConfigBase):
    """How a language model is trained (saved for the record).

    Attributes:
        epochs: passes over the pretraining windows.
        max_steps: stop after this many batches in all (0: no bound), for quick runs and a
            fixed compute budget.
        batch_size: windows per batch.
        learning_rate: Adam's step size.
        optimizer: ``lazy_adam`` (only the embedding and softmax rows a batch uses move) or
            ``adam``.
        clip_norm: clip each step's gradients to this global L2 norm (recurrent language
            models need it; 0 for none).
        held_out_fraction: share of the documents held out for perplexity (split by document,
            so no window mixes held-out and training text).
        seed: seed for the held-out split, shuffling and initialisation.
    """

    epochs: int = setting(1, min=1)
    max_steps: int = setting(0, min=0, help="Stop after this many batches in all (0: no "
                             "bound).")
    batch_size: int = setting(64, min=1, help="Windows per batch.")
    learning_rate: float = setting(2e-3, min=0, min_open=True, help="Adam's learning rate.")
    optimizer: str = setting("lazy_adam", choices=OPTIMIZERS)
    clip_norm: float = setting(1.0, min=0.0, help="Clip gradients to this global L2 norm (0: "
                               "no clipping).")
    held_out_fraction: float = setting(
        0.01, min=0.0, max=1.0, min_open=True, max_open=True,
        help="Share of the documents held out for perplexity.")
    seed: int = setting(1337, help=SEED_HELP)

    def __post_init__(self):
        check_settings(self)
