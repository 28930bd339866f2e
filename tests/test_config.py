from pathlib import Path

import pytest

from sentiment.artifacts import ArtifactKind, atomic_directory, check_replaceable
from sentiment.config import ClassifierConfig, TrainingConfig
from sentiment.errors import ConfigError


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
