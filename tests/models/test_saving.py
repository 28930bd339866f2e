"""sentiment.models.saving.read_model_config: config.json and its section, checked without
TensorFlow (what ``sentiment serve`` checks before it starts)."""

import json
import subprocess
import sys

import pytest

from sentiment.config import ClassifierConfig
from sentiment.errors import ModelError
from sentiment.models.saving import read_model_config


def test_read_model_config_imports_no_tensorflow():
    code = ("import sys; from sentiment.models.saving import read_model_config; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_read_model_config(tmp_path):
    section = ClassifierConfig(labels=("neg", "pos")).to_dict()
    (tmp_path / "config.json").write_text(json.dumps({"classifier": section, "versions": {}}))
    saved, config = read_model_config(tmp_path, "classifier", ClassifierConfig.from_dict)
    assert saved["classifier"] == section and config == ClassifierConfig.from_dict(section)

    with pytest.raises(ModelError, match="holds no forecaster .* 'forecaster' entry"):
        read_model_config(tmp_path, "forecaster", dict)
    (tmp_path / "config.json").write_text(json.dumps({"classifier": {"arch": "nope"}}))
    with pytest.raises(ModelError, match="not a valid classifier configuration"):
        read_model_config(tmp_path, "classifier", ClassifierConfig.from_dict)
    (tmp_path / "config.json").unlink()
    with pytest.raises(ModelError, match="config.json is missing"):
        read_model_config(tmp_path, "classifier", ClassifierConfig.from_dict)
