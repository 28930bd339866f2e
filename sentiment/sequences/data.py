"""Variable-length sequences of vectors: cells -> checked ``(time, features)`` arrays ->
normalized -> right-padded batches with their true lengths.

    a cell (list of lists, list of numbers, numpy array)
      -> to_frames: (time, features) float32, time >= 1, finite       DataError otherwise
      -> FeatureNormalizer.fit (training frames) / transform          per-feature z-scores
      -> pad_sequences: values (batch, max_time, features) float32, right zero padding
                        lengths (batch,) int32, the mask's source (not the values: a real
                        frame may be all zeros)

Numpy and pyarrow only (through :mod:`sentiment.io.tables`); no TensorFlow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DataError


def to_frames(value: Any, where: str) -> np.ndarray:
    """One sequence as a ``(time, features) float32`` array.

    Args:
        value: a list of frames (each a list of numbers), a list of numbers (one feature per
            frame), or an array of either shape.
        where: how messages name the sequence (``"train.parquet: row 3, column 'frames'"``).

    Raises:
        DataError: a missing value, no frames, frames of different lengths, a frame with no
            features, a value that is not a number, or NaN / infinity; naming ``where``.
    """
    if value is None:
        raise DataError(f"{where}: the sequence is missing")
    if isinstance(value, str):  # a CSV / TSV cell: JSON text
        try:
            value = json.loads(value)
        except ValueError:
            raise DataError(f"{where}: not a JSON list of frames ({value[:60]!r})") from None
    try:
        frames = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float
        raise DataError(f"{where}: not a sequence of numbers or of equal-length frames of "
                        f"numbers ({str(value)[:60]})") from None
    if frames.ndim == 1:
        frames = frames[:, None]  # one feature per frame
    if frames.ndim != 2:
        raise DataError(f"{where}: a sequence must be (time, features); received shape "
                        f"{frames.shape}")
    if frames.shape[0] == 0:
        raise DataError(f"{where}: the sequence has no frames")
    if frames.shape[1] == 0:
        raise DataError(f"{where}: the frames have no features")
    if not np.isfinite(frames).all():
        step = int(np.argwhere(~np.isfinite(frames))[0][0])
        raise DataError(f"{where}: frame {step} holds NaN or infinity")
    return frames


def check_features(sequences: Sequence[np.ndarray], features: int, source: str) -> None:
    """Check that every sequence has ``features`` features per frame.

    Raises:
        DataError: naming the first sequence (by index) with another count.
    """
    for index, frames in enumerate(sequences):
        if frames.shape[1] != features:
            raise DataError(f"{source}: sequence {index} has {frames.shape[1]} features per "
                            f"frame; the model takes {features}")


@dataclass(frozen=True)
class FeatureNormalizer:
    """Per-feature standardization with training statistics, ``(x - mean) / std``.

    Attributes:
        mean: ``(features,)`` mean over every training frame.
        std: ``(features,)`` standard deviation; a constant feature gets 1 (left unscaled).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, sequences: Sequence[np.ndarray]) -> "FeatureNormalizer":
        """Statistics of the frames of ``sequences`` (each ``(time, features)``).

        Raises:
            DataError: no sequences.
        """
        if not len(sequences):
            raise DataError("no training sequences to take normalization statistics from")
        frames = np.concatenate([np.asarray(s, np.float64) for s in sequences])
        std = frames.std(axis=0)
        std[std < 1e-8] = 1.0
        return cls(tuple(frames.mean(axis=0).tolist()), tuple(std.tolist()))

    @property
    def features(self) -> int:
        return len(self.mean)

    def transform(self, frames: np.ndarray) -> np.ndarray:
        """``(time, features)`` -> the same shape, standardized, float32."""
        return ((frames - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureNormalizer":
        return cls(tuple(float(x) for x in data["mean"]), tuple(float(x) for x in data["std"]))


def pad_sequences(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``sequences`` with zeros to the longest.

    Returns:
        ``(values, lengths)``: ``(batch, max_time, features) float32`` and ``(batch,) int32``.

    Raises:
        ValueError: no sequences, or sequences with different feature counts.
    """
    if not len(sequences):
        raise ValueError("pad_sequences needs at least one sequence")
    features = {s.shape[1] for s in sequences}
    if len(features) != 1:
        raise ValueError(f"sequences have different feature counts: {sorted(features)}")
    lengths = np.array([len(s) for s in sequences], np.int32)
    values = np.zeros((len(sequences), int(lengths.max()), features.pop()), np.float32)
    for row, frames in enumerate(sequences):
        values[row, :len(frames)] = frames
    return values, lengths


@dataclass(frozen=True)
class TargetScaler:
    """Standardization of numeric targets with training statistics, restored on output.

    Attributes:
        mean, std: of the training targets (a constant target gets std 1).
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, targets: Sequence[float]) -> "TargetScaler":
        targets = np.asarray(targets, np.float64)
        if targets.size == 0 or not np.isfinite(targets).all():
            raise DataError("regression targets must be finite numbers, at least one")
        std = float(targets.std())
        return cls(float(targets.mean()), std if std > 1e-12 else 1.0)

    def transform(self, targets) -> np.ndarray:
        return ((np.asarray(targets, np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, scaled) -> np.ndarray:
        return np.asarray(scaled, np.float64) * self.std + self.mean


@dataclass(frozen=True)
class LabelledSequences:
    """Sequences with their targets.

    Attributes:
        sequences: ``n`` arrays ``(time, features) float32``, time >= 1.
        targets: ``n`` raw label values as strings (classification), or ``(n,) float64``
            numbers (regression).
        source: where they came from, for messages.
    """

    sequences: list
    targets: Any
    source: str

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def features(self) -> int:
        return int(self.sequences[0].shape[1]) if self.sequences else 0

    def subset(self, rows) -> "LabelledSequences":
        """The sequences at ``rows`` (an index array), in that order."""
        rows = np.asarray(rows, np.int64)
        targets = (np.asarray(self.targets)[rows] if isinstance(self.targets, np.ndarray)
                   else tuple(self.targets[i] for i in rows))
        return LabelledSequences([self.sequences[i] for i in rows], targets, self.source)


def _label_string(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _target_number(value: Any, where: str) -> float:
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: a regression target must be a number; received "
                        f"{str(value)[:40]!r}") from None
    if not np.isfinite(number):
        raise DataError(f"{where}: the target is missing or not finite ({value!r})")
    return number


def load_sequence_file(path: str | Path, sequence_column: str = "frames",
                       label_column: str = "label", task: str = "classification"
                       ) -> LabelledSequences:
    """The sequences and targets of a Parquet, JSON Lines, CSV or TSV file (in CSV / TSV a
    sequence is a JSON list in its cell).

    Args:
        task: ``classification`` (labels read as strings) or ``regression`` (numbers).

    Raises:
        DataError: a missing file or column, a bad sequence or target (naming the row and
            column), or sequences with different feature counts.
    """
    from ..io.tables import read_table

    table = read_table(path, columns=(sequence_column, label_column),
                       column_hint="use --sequence-column / --label-column")
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    sequences = [to_frames(value, f"{path}: row {row + 1}, column {sequence_column!r}")
                 for row, value in enumerate(table.values(sequence_column))]
    check_features(sequences, sequences[0].shape[1], str(path))
    where = [f"{path}: row {row + 1}, column {label_column!r}" for row in range(len(sequences))]
    values = table.values(label_column)
    if task == "regression":
        targets: Any = np.array([_target_number(v, w) for v, w in zip(values, where)])
    else:
        labels = []
        for value, place in zip(values, where):
            label = _label_string(value)
            if label is None:
                raise DataError(f"{place} is missing")
            labels.append(label)
        targets = tuple(labels)
    return LabelledSequences(sequences, targets, str(path))


def load_sequence_dataset(name: str, task: str = "classification"
                          ) -> tuple[LabelledSequences, LabelledSequences]:
    """The ``(train, test)`` splits of a named data set of sequences.

    ``japanese_vowels``: ``$SENTIMENT_DATA_DIR/japanese_vowels/{train,test}.parquet``
    (Kudo et al. 1999, UCI; 270 / 370 utterances, 7-29 frames of 12 LPC coefficients,
    9 speakers; columns ``frames`` and ``label``).

    Raises:
        DataError: an unknown name, or the files are not there (the data set is not on the
            Hugging Face hub; the message says where it comes from).
    """
    from ..config.sequence import SEQUENCE_DATASETS
    from ..paths import DATA_DIR_ENV, data_dir

    if name not in SEQUENCE_DATASETS:
        raise DataError(f"unknown data set of sequences {name!r}; choose "
                        f"{', '.join(SEQUENCE_DATASETS)}")
    local = data_dir()
    folder = local / name if local else None
    if folder is None or not (folder / "train.parquet").is_file():
        raise DataError(f"{name}: {folder or '$' + DATA_DIR_ENV + '/' + name}/train.parquet "
                        f"is missing; set ${DATA_DIR_ENV} to a directory holding "
                        f"{name}/train.parquet and test.parquet (columns frames, label; "
                        "from the UEA multivariate archive, JapaneseVowels)")
    return tuple(load_sequence_file(folder / f"{split}.parquet", "frames", "label", task)
                 for split in ("train", "test"))


def split_validation(data: LabelledSequences, fraction: float, seed: int
                     ) -> tuple[LabelledSequences, LabelledSequences]:
    """``(train, validation)``: a seeded random ``fraction`` of ``data`` held out (at least
    one sequence each; for classification, stratified by label, so every class is in both
    where it has two or more sequences).

    Raises:
        DataError: fewer than two sequences.
    """
    if len(data) < 2:
        raise DataError(f"{data.source}: at least two sequences are needed to hold out a "
                        "validation split")
    rng = np.random.default_rng(seed)
    if isinstance(data.targets, np.ndarray):
        order = rng.permutation(len(data))
        held = max(1, min(len(data) - 1, round(fraction * len(data))))
        return data.subset(np.sort(order[held:])), data.subset(np.sort(order[:held]))
    targets = np.asarray(data.targets)
    held_out = []
    for label in sorted(set(data.targets)):
        rows = rng.permutation(np.flatnonzero(targets == label))
        if len(rows) >= 2:
            held_out += rows[:max(1, round(fraction * len(rows)))].tolist()
    if not held_out:
        held_out = [int(rng.integers(len(data)))]
    held = np.zeros(len(data), bool)
    held[held_out] = True
    return data.subset(np.flatnonzero(~held)), data.subset(np.flatnonzero(held))
