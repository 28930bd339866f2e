"""Where things live on disk: the data directory and the default model directory.

Pure Python, no TensorFlow, so the CLI can resolve paths before importing anything heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming a directory of local copies of the named data sets.
DATA_DIR_ENV = "SENTIMENT_DATA_DIR"
#: Environment variable naming the default model directory.
MODEL_DIR_ENV = "SENTIMENT_MODEL_DIR"
#: Environment variable naming the default forecaster directory.
FORECAST_MODEL_DIR_ENV = "SENTIMENT_FORECAST_MODEL_DIR"


def data_dir() -> Path | None:
    """The local data directory from ``$SENTIMENT_DATA_DIR``, or ``None`` when unset.

    Layout expected below it: ``imdb/{train,test}.parquet``, ``sst2/{train,dev}.tsv``,
    ``goemotions/{train,dev,test}.tsv`` with ``goemotions/labels.txt``, ``ett/ETTh1.csv``. A named data set missing there is fetched from the Hugging Face hub.
    """
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def _model_dir(variable: str, name: str) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else Path.home() / ".sentiment" / "models" / name


def default_model_dir() -> Path:
    """The directory ``sentiment train`` writes to and ``sentiment predict`` reads from by default.

    ``$SENTIMENT_MODEL_DIR`` when set, else ``~/.sentiment/models/default``.
    """
    return _model_dir(MODEL_DIR_ENV, "default")


def default_forecast_dir() -> Path:
    """The forecaster directory ``sentiment forecast`` commands use by default.

    ``$SENTIMENT_FORECAST_MODEL_DIR`` when set, else ``~/.sentiment/models/forecast``.
    """
    return _model_dir(FORECAST_MODEL_DIR_ENV, "forecast")
