"""Frozen configuration dataclasses, saved as ``config.json`` next to the weights.

Training writes the :class:`ClassifierConfig` (or :class:`ForecasterConfig`) it used; serving
reads the same file back, so preprocessing (normalization, tokenizer, vocabulary, truncation,
windows) and the model can never disagree between the two. Each setting is declared once, as
a field with its help, choices and range (:func:`~sentiment.config.fields.setting`): the
configurations validate themselves from it and the command line builds its options from it.
Pure Python: no numpy or TensorFlow import.

* :mod:`.fields`: ``setting``, ``check_settings``, ``ConfigBase`` (``to_dict``,
  ``from_dict``, ``replace``);
* :mod:`.classifier`: ``ClassifierConfig``, ``TrainingConfig`` and their choices;
* :mod:`.ensemble`: ``EnsembleConfig`` (an ensemble of classifiers);
* :mod:`.language_model`: ``LanguageModelConfig``, ``PretrainingConfig`` (``sentiment
  pretrain``);
* :mod:`.forecaster`: ``ForecasterConfig``, ``ForecastTrainingConfig`` and their choices;
* here: the file names of a model directory, the artifact kinds, reading and writing JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactKind
from ..errors import ModelError
from .classifier import (
    ABSTAIN_LABEL,
    ARCHITECTURES,
    DTYPE_POLICIES,
    EXPLAIN_METHODS,
    IF_NO_LABEL,
    INFERENCE_BATCH_SIZE,
    LABEL_THRESHOLDS,
    default_inference_threads,
    LEARNING_RATE_SCHEDULES,
    OPTIMIZERS,
    POOLINGS,
    THRESHOLD_TUNING,
    TOKENIZERS,
    TRUNCATIONS,
    ClassifierConfig,
    TrainingConfig,
)
from .ensemble import WEIGHTINGS, EnsembleConfig
from .fields import ConfigBase, check_settings, setting, settings
from .language_model import (LANGUAGE_MODEL_ARCHITECTURES, PRETRAINED_SETTINGS,
                             LanguageModelConfig, PretrainingConfig)
from .forecaster import (
    BASELINES,
    DECODERS,
    FORECAST_DATASETS,
    FORECASTER_ARCHITECTURES,
    SPLITS,
    ForecasterConfig,
    ForecastTrainingConfig,
)

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
#: What ``sentiment train --sequence-column`` writes (a model over sequences of vectors).
SEQUENCE_ARTIFACT = ArtifactKind(
    "sequence model directory", required=(CONFIG_FILE, MODEL_FILE),
    allowed=(CONFIG_FILE, MODEL_FILE, METRICS_FILE))
#: The weights of a language model (its own name, so that no classifier directory is taken
#: for a language model directory or replaced by one, and the reverse).
LANGUAGE_MODEL_FILE = "language_model.keras"
#: What ``sentiment pretrain`` writes.
LANGUAGE_MODEL_ARTIFACT = ArtifactKind(
    "language model directory", required=(CONFIG_FILE, LANGUAGE_MODEL_FILE, VOCAB_FILE),
    allowed=(CONFIG_FILE, LANGUAGE_MODEL_FILE, VOCAB_FILE, METRICS_FILE))
#: The folder of the members' model directories inside an ensemble directory.
MEMBERS_DIR = "members"
#: What ``sentiment ensemble`` writes.
ENSEMBLE_ARTIFACT = ArtifactKind(
    "ensemble model directory", required=(CONFIG_FILE, MEMBERS_DIR),
    allowed=(CONFIG_FILE, MEMBERS_DIR, METRICS_FILE))


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


__all__ = [
    "ABSTAIN_LABEL", "ARCHITECTURES", "BASELINES", "CLASSIFIER_ARTIFACT", "CONFIG_FILE",
    "DECODERS", "DTYPE_POLICIES", "ENSEMBLE_ARTIFACT", "EXPLAIN_METHODS",
    "FORECASTER_ARCHITECTURES", "FORECASTER_ARTIFACT", "FORECAST_DATASETS", "IF_NO_LABEL",
    "INFERENCE_BATCH_SIZE", "LABEL_THRESHOLDS", "LANGUAGE_MODEL_ARCHITECTURES",
    "LANGUAGE_MODEL_ARTIFACT", "LANGUAGE_MODEL_FILE", "LanguageModelConfig",
    "PRETRAINED_SETTINGS", "PretrainingConfig", "SEQUENCE_ARTIFACT", "LEARNING_RATE_SCHEDULES", "MEMBERS_DIR",
    "METRICS_FILE", "MODEL_FILE", "OPTIMIZERS", "POOLINGS", "SPLITS", "THRESHOLD_TUNING",
    "TOKENIZERS", "TRUNCATIONS", "VOCAB_FILE", "WEIGHTINGS", "ClassifierConfig",
    "ConfigBase", "EnsembleConfig", "ForecastTrainingConfig", "ForecasterConfig",
    "TrainingConfig", "check_settings", "default_inference_threads", "read_config_file",
    "setting", "settings", "write_json",
]
