from pathlib import Path

import pytest

import dataclasses
import json

from sentiment.artifacts import ArtifactKind, atomic_directory, check_replaceable
from sentiment.config import (
    ClassifierConfig,
    ForecasterConfig,
    ForecastTrainingConfig,
    TrainingConfig,
    settings,
)
from sentiment.errors import ConfigError

CONFIGS = (ClassifierConfig, TrainingConfig, ForecasterConfig, ForecastTrainingConfig)


def test_round_trip_and_unknown_keys_ignored():
    config = ClassifierConfig(arch="lstm", labels=("a", "b"), label_values=(0, 1))
    data = config.to_dict()
    assert data["label_values"] == ["0", "1"]
    assert ClassifierConfig.from_dict({**data, "added_later": 1}) == config


@pytest.mark.parametrize("kwargs,message", [
    ({"arch": "transformer"}, "arch must be one of .* received 'transformer'"),
    ({"units": 0}, "units must be an integer >= 1; received 0"),
    ({"dropout": 1.0}, "dropout"),
    ({"labels": ("a",), "label_values": ("1", "2")}, "same length"),
    ({"ensemble": 0}, "ensemble must be an integer >= 1; received 0"),
])
def test_invalid_values_name_argument_and_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ClassifierConfig(**kwargs)


def test_training_config_validation():
    with pytest.raises(ConfigError, match="validation_fraction"):
        TrainingConfig(validation_fraction=1.0)
    with pytest.raises(ConfigError, match="learning_rate_schedule must be one of constant, "
                                          "cosine; received 'linear'"):
        TrainingConfig(learning_rate_schedule="linear")
    with pytest.raises(ConfigError, match="optimizer must be one of adam, lazy_adam; received "
                                          "'sgd'"):
        TrainingConfig(optimizer="sgd")
    assert TrainingConfig().optimizer == "lazy_adam"
    with pytest.raises(ConfigError, match="ema_momentum must be in \\[0, 1\\); received 1.0"):
        TrainingConfig(ema_momentum=1.0)
    assert TrainingConfig(ema_momentum=0.0).ema_momentum == 0.0  # off
    with pytest.raises(ConfigError, match="adversarial must be >= 0; received -1.0"):
        TrainingConfig(adversarial=-1.0)
    assert TrainingConfig().adversarial == 0.0  # off by default


def test_classifier_config_keeps_the_dtype_policy_and_reads_old_files():
    config = ClassifierConfig(dtype_policy="mixed_bfloat16")
    assert config.to_dict()["dtype_policy"] == "mixed_bfloat16"
    assert "mixed_precision" not in config.to_dict()
    # config.json of older versions held the policy string under "mixed_precision"
    old = {key: value for key, value in config.to_dict().items() if key != "dtype_policy"}
    assert ClassifierConfig.from_dict({**old, "mixed_precision": "mixed_bfloat16"}) == config
    with pytest.raises(ConfigError, match="dtype_policy must be one of float32, mixed_float16, "
                                          "mixed_bfloat16; received 'float64'"):
        ClassifierConfig(dtype_policy="float64")
    with pytest.raises(ConfigError, match="expected an object"):
        ClassifierConfig.from_dict(["gru"])


def test_forecaster_config_validation_and_round_trip():
    config = ForecasterConfig(lookback=24, horizon=6, targets=("a",), inputs=("a", "b"),
                              mean=(1.0, 2.0), std=(1.0, 1.0))
    assert ForecasterConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.normalizer.mean == (1.0, 2.0)
    with pytest.raises(ConfigError, match="no normalization statistics"):
        ForecasterConfig(targets=("a",), inputs=("a",)).normalizer  # noqa: B018
    with pytest.raises(ConfigError, match="inputs must start with the targets"):
        ForecasterConfig(targets=("a",), inputs=("b", "a"))
    with pytest.raises(ConfigError, match="decoder must be one of"):
        ForecasterConfig(targets=("a",), inputs=("a",), decoder="beam")
    with pytest.raises(ConfigError, match="extra input features"):
        ForecasterConfig(targets=("a",), inputs=("a", "b"), channel_independent=True)
    with pytest.raises(ConfigError, match=r"highway \(25\) must not exceed lookback \(24\)"):
        ForecasterConfig(lookback=24, targets=("a",), inputs=("a",), highway=25)
    with pytest.raises(ConfigError, match="ensemble must be an integer >= 1; received 0"):
        ForecasterConfig(targets=("a",), inputs=("a",), ensemble=0)
    with pytest.raises(ConfigError, match="season must be an integer >= 1; received 0"):
        ForecasterConfig(targets=("a",), inputs=("a",), season=0)
    with pytest.raises(ConfigError, match="lookback must be an integer >= 1; received True"):
        ForecasterConfig(lookback=True)
    with pytest.raises(ConfigError, match="max_train_windows must be an integer >= 1"):
        ForecastTrainingConfig(max_train_windows=0)
    assert ForecastTrainingConfig(max_train_windows=None).max_train_windows is None


@pytest.mark.parametrize("config_class", CONFIGS)
def test_every_config_has_to_dict_from_dict_and_replace(config_class):
    config = config_class()
    data = config.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(config_class)]
    assert config_class.from_dict(json.loads(json.dumps({**data, "added_later": 1}))) == config
    # the first integer setting with a lower bound: replace validates again
    f = next(f for f in settings(config_class) if f.metadata["min"] is not None
             and type(f.default) is int)
    assert getattr(config.replace(**{f.name: f.default + 1}), f.name) == f.default + 1
    with pytest.raises(ConfigError, match=f"{f.name} must be an integer >= "):
        config.replace(**{f.name: f.metadata["min"] - 1})


@pytest.mark.parametrize("config_class", CONFIGS)
def test_defaults_are_among_their_choices(config_class):
    for f in settings(config_class):
        if f.metadata["choices"] is not None and f.default is not None:
            assert f.default in f.metadata["choices"], f.name


KIND = ArtifactKind("test artifact", required=("a.txt",), allowed=("a.txt", "b.txt"))


def test_atomic_directory_replaces_only_when_complete(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target, KIND) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_directory(target, KIND) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert (target / "a.txt").read_text() == "first"
    with atomic_directory(target, KIND) as tmp:
        (tmp / "a.txt").write_text("second")
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_failed_final_rename_puts_the_old_artifact_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with atomic_directory(target, KIND) as tmp:
        (tmp / "a.txt").write_text("old")
    rename = Path.rename

    def refuse_the_new_one(self, destination):
        if Path(destination) == target and self.parent.name.startswith(".model.tmp-"):
            raise OSError("rename refused")
        return rename(self, destination)

    monkeypatch.setattr(Path, "rename", refuse_the_new_one)
    with pytest.raises(OSError, match="rename refused"):
        with atomic_directory(target, KIND) as tmp:
            (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary left behind


def test_only_an_empty_directory_or_an_artifact_of_the_same_kind_is_replaced(tmp_path,
                                                                           monkeypatch):
    # a directory that is not such an artifact (a project, a home, a serving base path)
    project = tmp_path / "project"
    (project / "1").mkdir(parents=True)
    (project / "a.txt").write_text("keep me")  # holding the required file is not enough
    with pytest.raises(ConfigError, match=r"'.*project' is a non-empty directory that is not "
                                          r"a test artifact \(it holds 1\)"):
        with atomic_directory(project, KIND) as tmp:
            (tmp / "a.txt").write_text("new")
    assert sorted(p.name for p in project.iterdir()) == ["1", "a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["project"]  # no temporary left behind
    (project / "1").rmdir()
    (project / "a.txt").unlink()
    (project / "b.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"\(it lacks a.txt\)"):
        check_replaceable(project, KIND)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_replaceable(tmp_path / "file", KIND)
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        check_replaceable(tmp_path / "file" / "model", KIND)
    (tmp_path / "empty").mkdir()
    assert check_replaceable(tmp_path / "empty", KIND) == (tmp_path / "empty").resolve()
    assert check_replaceable(tmp_path / "new" / "m", KIND) == (tmp_path / "new/m").resolve()
    monkeypatch.chdir(tmp_path / "empty")  # even empty, the working directory is not replaced
    for output in (".", str(tmp_path)):
        with pytest.raises(ConfigError, match="current directory"):
            check_replaceable(output, KIND)
