"""Batch scoring of files: streaming, row for row, atomic and resumable.

:func:`score_file` reads a CSV, TSV, JSON Lines, Parquet or plain-text file (or standard input)
in chunks of rows through :mod:`sentiment.io` (formats, readers and writers are described
there), classifies the text column of each chunk with
:meth:`sentiment.Predictor.predict_proba` (which sorts each chunk's texts by length into
batches and puts the results back in order), and writes every input row with its input columns
unchanged plus ``predicted_label``, ``predicted_score``, optionally ``prob_<label>`` per class,
and ``error``. Memory holds one chunk at a time, whatever the size of the file. A text file's
default output format is ``jsonl``.

Output goes to a temporary file beside the target (``.NAME.partial``; Parquet chunks to
``.NAME.parts/``) and is renamed into place only when complete, so an interrupted run never
leaves a partial file at the output path. After each chunk, a small state file
(``.NAME.score-state.json``) records the rows done and the output bytes (or Parquet parts)
they fill; ``resume=True`` truncates the temporary output to that point and continues from the
next input row, so no row is duplicated or skipped. The whole run holds an exclusive lock on
the output (:func:`sentiment.artifacts.output_lock`, ``.NAME.lock``), taken before the hidden
files are touched, so a second run on the same output stops at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np
import pyarrow as pa

from .artifacts import check_not_input, lock_path, output_lock
from .config import INFERENCE_BATCH_SIZE
from .decisions import DecisionRule, chosen_scores
from .errors import ConfigError, DataError
from .io.formats import (ERROR_COLUMN, LABEL_COLUMN, LABELS_COLUMN, LABELS_DELIMITER,
                         PROBABILITY_PREFIX, SCORE_COLUMN, STDIO, VALUE_COLUMN, detect_format,
                         resolve_output_format)
from .io.readers import DEFAULT_CHUNK_SIZE, open_reader
from .io.writers import open_writer

_STATE_VERSION = 1

# ----------------------------------------------------------------------------- scoring


@dataclass
class ChunkPredictions:
    """Predictions for the rows of one chunk (``n`` rows, ``c`` classes).

    Attributes:
        labels: per row the class name given (the abstain label where the decision rule
            abstains), or for a multi-label model the list of label names; ``None`` for a
            row with an error.
        probabilities: ``(n, c) float32``; rows with an error are NaN.
        errors: ``n`` messages, ``None`` for a row that was scored.
        scores: ``(n,) float32`` probability of the label given (multi-label: the row's
            highest); NaN for errors.
        values: a regression model's ``(n,) float64`` predictions (NaN for errors), else
            ``None`` (``labels`` are then all ``None`` and ``probabilities`` ``(n, 0)``).
    """

    labels: list
    probabilities: np.ndarray
    errors: list
    scores: np.ndarray
    values: np.ndarray | None = None


def is_regression(predictor) -> bool:
    """Whether ``predictor`` gives numbers (``task == "regression"``) rather than labels."""
    return getattr(predictor, "task", "classification") == "regression"


def decision_rule(predictor) -> DecisionRule:
    """``predictor.decision``, or the argmax over ``predictor.labels`` for an object that
    has none."""
    return getattr(predictor, "decision", None) or DecisionRule(tuple(predictor.labels))


def text_problem(value: Any) -> str | None:
    """Why ``value`` cannot be scored (``"missing text"``, ``"empty text"``, ``"text is int,
    not a string"``), or ``None`` when it is a non-blank ``str``."""
    if value is None:
        return "missing text"
    if not isinstance(value, str):
        return f"text is {type(value).__name__}, not a string"
    if not value.strip():
        return "empty text"
    return None


def predict_chunk(predictor, texts: Sequence[Any], batch_size: int = INFERENCE_BATCH_SIZE,
                  row_errors: dict | None = None) -> ChunkPredictions:
    """Classify ``texts`` (any values) with ``predictor.predict_proba``; a missing, empty or
    non-string value gets no prediction and a message instead, never an exception.

    Args:
        predictor: a :class:`sentiment.Predictor` (or anything with ``labels`` and
            ``predict_proba(list[str], batch_size) -> (n, c) float32``, and optionally a
            ``decision`` :class:`~sentiment.decisions.DecisionRule`; else the argmax).
        texts: the ``n`` values of the text column.
        batch_size: texts per model call.
        row_errors: position -> message for rows already known to be unreadable.

    Returns:
        :class:`ChunkPredictions` for the ``n`` rows, in input order.
    """
    row_errors = row_errors or {}
    labels = list(predictor.labels)
    n = len(texts)
    errors: list = [None] * n
    valid, valid_texts = [], []
    # a model over sequences of vectors says what it cannot read (SequencePredictor)
    problem_of = getattr(predictor, "input_problem", text_problem)
    for i, value in enumerate(texts):
        problem = row_errors.get(i) or problem_of(value)
        if problem:
            errors[i] = problem
        else:
            valid.append(i)
            valid_texts.append(value)
    probabilities = np.full((n, len(labels)), np.nan, dtype=np.float32)
    scores = np.full(n, np.nan, dtype=np.float32)
    predicted: list = [None] * n
    if is_regression(predictor):
        values = np.full(n, np.nan)
        if valid_texts:
            values[valid] = predictor.predict_values(valid_texts, batch_size=batch_size)
        return ChunkPredictions(predicted, probabilities, errors, scores, values)
    if valid_texts:
        scored = np.asarray(predictor.predict_proba(valid_texts, batch_size=batch_size),
                            dtype=np.float32)
        probabilities[valid] = scored
        rule = decision_rule(predictor)
        scores[valid] = chosen_scores(rule, scored)
        for i, given in zip(valid, rule.decide(scored)):
            predicted[i] = given
    return ChunkPredictions(predicted, probabilities, errors, scores)


def output_columns(labels: Sequence[str], probabilities: bool,
                   multi_label: bool = False, regression: bool = False) -> list[str]:
    """Names of the columns scoring adds, in order: ``predicted_label``, ``predicted_score``,
    ``prob_<label>`` per class when ``probabilities``, ``error``; for a multi-label model
    ``predicted_labels``, ``prob_<label>`` per label (always), ``error``; for a regression
    model ``predicted_value``, ``error``."""
    if regression:
        return [VALUE_COLUMN, ERROR_COLUMN]
    if multi_label:
        return [LABELS_COLUMN, *(PROBABILITY_PREFIX + label for label in labels), ERROR_COLUMN]
    names = [LABEL_COLUMN, SCORE_COLUMN]
    if probabilities:
        names += [PROBABILITY_PREFIX + label for label in labels]
    return names + [ERROR_COLUMN]


def _prediction_arrays(predictions: ChunkPredictions, labels: Sequence[str],
                       probabilities: bool, multi_label: bool = False,
                       delimited: bool = False) -> list[pa.Array]:
    """The added columns of one chunk; a multi-label model's label lists joined by
    :data:`LABELS_DELIMITER` when ``delimited`` (CSV, TSV)."""
    missing = np.array([error is not None for error in predictions.errors], dtype=bool)
    if predictions.values is not None:  # regression
        return [pa.array(predictions.values, pa.float64(), mask=missing),
                pa.array(predictions.errors, pa.string())]
    if multi_label:
        given = predictions.labels
        arrays = [pa.array([None if names is None else LABELS_DELIMITER.join(names)
                            for names in given], pa.string()) if delimited
                  else pa.array(given, pa.list_(pa.string()))]
        probabilities = True
    else:
        arrays = [pa.array(predictions.labels, pa.string()),
                  pa.array(predictions.scores, pa.float32(), mask=missing)]
    if probabilities:
        for column in range(len(labels)):
            arrays.append(pa.array(predictions.probabilities[:, column], pa.float32(),
                                   mask=missing))
    arrays.append(pa.array(predictions.errors, pa.string()))
    return arrays


_MALLOC_TRIM: Any = None


def release_memory() -> None:
    """Hand freed memory back to the operating system: pyarrow's pool, and the glibc heap
    (``malloc_trim``; skipped elsewhere).

    Tokenizing a chunk allocates and frees large temporary buffers, which allocators tend to
    keep; called after each chunk, this limits the creep of resident memory from chunk to
    chunk (README.md, "Scoring files", records what the benchmark measured).
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                pass
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


# ----------------------------------------------------------------------------- state


@dataclass
class ScoreResult:
    """What :func:`score_file` did.

    Attributes:
        rows: rows written in total (including those of a resumed run).
        errors: rows with a message in the ``error`` column, in this run.
        resumed_from: rows already done when this run started (0 for a fresh run).
        seconds: wall time of this run, from when the model is ready.
        output: the output path, or ``None`` for standard output.
        output_format: the format written.
    """

    rows: int
    errors: int
    resumed_from: int
    seconds: float
    output: str | None
    output_format: str


def state_paths(output: str | os.PathLike) -> dict[str, Path]:
    """The hidden files beside ``output`` used while it is written: ``partial`` (the output
    being written), ``parts`` (Parquet chunks), ``state`` (resume information)."""
    target = Path(output).expanduser().absolute()
    return {"partial": target.with_name(f".{target.name}.partial"),
            "parts": target.with_name(f".{target.name}.parts"),
            "state": target.with_name(f".{target.name}.score-state.json")}


def _input_identity(path: str) -> dict:
    stat = os.stat(path)
    return {"path": str(Path(path).absolute()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns}


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _cleanup(paths: dict[str, Path]) -> None:
    for key in ("partial", "state"):
        paths[key].unlink(missing_ok=True)
    paths["state"].with_name(paths["state"].name + ".tmp").unlink(missing_ok=True)
    shutil.rmtree(paths["parts"], ignore_errors=True)


def _load_state(paths: dict[str, Path], identity: dict) -> dict | None:
    """The saved state when it belongs to this very job, ``None`` when there is none.

    Raises:
        ConfigError: when the saved state belongs to another input, model or options.
    """
    try:
        state = json.loads(paths["state"].read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ConfigError(f"{paths['state']} is unreadable; run again without --resume to "
                          "start over") from None
    if state.get("version") != _STATE_VERSION:
        raise ConfigError(f"{paths['state']} was written by another version; run again "
                          "without --resume")
    for key, value in identity.items():
        if state.get("job", {}).get(key) != value:
            what = {"input": "the input file changed", "model": "the model differs",
                    "options": "the options differ"}.get(key, f"{key} differs")
            raise ConfigError(f"cannot resume: {what} since the interrupted run "
                              f"({state.get('job', {}).get(key)!r} then, {value!r} now); "
                              "run again without --resume to start over")
    return state


# ----------------------------------------------------------------------------- main entry


def score_file(predictor, input_path: str | os.PathLike, output_path: str | os.PathLike | None
               = None, *, text_column: str = "text", input_format: str | None = None,
               output_format: str | None = None, probabilities: bool = False,
               overwrite_columns: bool = False, batch_size: int = INFERENCE_BATCH_SIZE,
               chunk_size: int = DEFAULT_CHUNK_SIZE, resume: bool = False,
               model_id: str | None = None,
               progress: Callable[[int, int, int | None, float | None], None] | None = None,
               stdout: BinaryIO | None = None) -> ScoreResult:
    """Score every row of a file and write it with its predictions, streaming chunk by chunk.

    Args:
        predictor: a :class:`sentiment.Predictor`, or a zero-argument callable returning one
            (called after the input is opened and checked, so input errors come first).
        input_path: the file to score, or ``"-"`` for standard input.
        output_path: the file to write, or ``None`` / ``"-"`` for standard output
            (``stdout``, default ``sys.stdout.buffer``).
        text_column: the column holding the texts.
        input_format, output_format: see :func:`sentiment.io.formats.detect_format` and
            :func:`sentiment.io.formats.resolve_output_format`.
        probabilities: add one ``prob_<label>`` float32 column per class.
        overwrite_columns: replace input columns that have the name of an added column
            instead of stopping.
        batch_size: texts per model call; ``chunk_size``: rows read, scored and written at a
            time (memory grows with it, not with the file).
        resume: continue an interrupted run on the same input, model and options from its
            last completed chunk (a fresh run when there is nothing to resume).
        model_id: identifies the model in the resume state (e.g. its directory).
        progress: called when scoring starts and after each chunk with ``(rows done, rows
            done by this run, total rows or None, fraction of the input read or None)``.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        DataError: unreadable input (a CSV/TSV row with the wrong number of fields: the
            message names its row and line), missing text column (the message lists the
            columns), an input column named like an added one, a value TSV cannot hold.
        ConfigError: bad options; an output that is the input under another name
            (:func:`sentiment.artifacts.check_not_input`); another run writing the same
            output ("OUTPUT is being written by another run (pid N)"); or ``resume`` with a
            state that does not match.
        FileNotFoundError: when the input does not exist.
        KeyboardInterrupt: passed on; the completed chunks stay in the hidden files beside the
            output for ``resume``, and the output path is untouched.
    """
    started = time.monotonic()
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be an integer >= 1; received {chunk_size!r}")
    input_path = str(input_path)
    to_stdout = output_path is None or str(output_path) == STDIO
    if resume and (input_path == STDIO or to_stdout):
        raise ConfigError("--resume needs an input file and an output file (-o)")
    fmt = detect_format(input_path, input_format)
    out_fmt = resolve_output_format(fmt, None if to_stdout else output_path, output_format)
    if not to_stdout and input_path != STDIO:
        check_not_input(output_path, input_path)
        # the hidden files beside the output are cleared or truncated: none may be the input
        for hidden in (*state_paths(output_path).values(), lock_path(output_path)):
            check_not_input(hidden, input_path)
        parts = state_paths(output_path)["parts"].resolve()
        if parts in Path(input_path).resolve().parents:
            raise ConfigError(f"input {input_path!r} is in {str(parts)!r}, the hidden directory "
                              f"where {output_path!r} is written, which is cleared; move it")

    if not to_stdout and not Path(output_path).expanduser().absolute().parent.is_dir():
        raise ConfigError(f"{output_path}: the directory "
                          f"{Path(output_path).expanduser().absolute().parent} does not exist")
    options = {"text_column": text_column, "input_format": fmt, "output_format": out_fmt,
               "probabilities": probabilities, "overwrite_columns": overwrite_columns}
    # held for the whole run, from before the hidden files are cleaned up or resumed
    with output_lock(output_path) if not to_stdout else contextlib.nullcontext():
        identity = None
        paths = None
        state = None
        if not to_stdout:
            paths = state_paths(output_path)
            identity = {"input": _input_identity(input_path) if input_path != STDIO else None,
                        "model": model_id, "options": options}
            state = _load_state(paths, identity) if resume else None
            if state is None:
                _cleanup(paths)
        skip = state["rows_done"] if state else 0

        reader = open_reader(input_path, fmt, text_column)
        try:
            reader.prime(chunk_size, skip)  # JSON Lines: learn the columns
            if not callable(getattr(predictor, "predict_proba", None)) and callable(predictor):
                predictor = predictor()
                started = time.monotonic()  # time the scoring, not the model loading
            labels = list(predictor.labels)
            regression = is_regression(predictor)
            multi_label = not regression and decision_rule(predictor).multi_label
            added = output_columns(labels, probabilities, multi_label, regression)
            clash = [name for name in reader.columns if name in added]
            if clash and not overwrite_columns:
                raise DataError(f"{input_path}: the input already has the column(s) "
                                f"{', '.join(map(repr, clash))}, which scoring adds; rename them "
                                "or pass --overwrite-columns to replace them")
            return _run(predictor, reader, paths, state, identity, out_fmt, labels,
                        probabilities, (multi_label, regression), overwrite_columns,
                        batch_size, chunk_size, progress,
                        stdout if stdout is not None else (None if not to_stdout
                                                           else sys.stdout.buffer),
                        None if to_stdout else str(output_path), started, skip)
        finally:
            reader.close()


def _run(predictor, reader, paths, state, identity, out_fmt, labels, probabilities,
         kind, overwrite_columns, batch_size, chunk_size, progress, stdout, output_path,
         started, skip) -> ScoreResult:
    multi_label, regression = kind
    rows_done = skip
    error_rows = 0
    writer = None
    if stdout is not None:
        stream: BinaryIO = stdout
    else:
        stream = open(paths["partial"], "r+b" if state else "wb")
        if state:
            stream.truncate(state["output_bytes"])
            stream.seek(state["output_bytes"])
    try:
        arrays = functools.partial(_prediction_arrays, labels=labels,
                                   probabilities=probabilities, multi_label=multi_label,
                                   delimited=out_fmt in ("csv", "tsv"))
        writer = open_writer(out_fmt, stream,
                             output_columns(labels, probabilities, multi_label, regression),
                             target=output_path or "<stdout>",
                             columns=state.get("columns") if state else None,
                             header_done=bool(state),
                             parts_dir=paths["parts"] if paths is not None else None,
                             parts_done=state["parts"] if state else 0)
        wrote_any = bool(state)
        if progress is not None:
            progress(skip, 0, reader.total_rows, reader.fraction())
        for chunk in reader.chunks(chunk_size, skip):
            if chunk.records is not None and not overwrite_columns:
                for position, record in enumerate(chunk.records):
                    clash = [key for key in (record or ()) if key in writer.added]
                    if clash:
                        raise DataError(
                            f"{reader.path}: row {chunk.start + position + 1} already has the "
                            f"key {clash[0]!r}, which scoring adds; rename it or pass "
                            "--overwrite-columns")
            predictions = predict_chunk(predictor, chunk.values(reader.text_column),
                                        batch_size, chunk.row_errors)
            writer.write(chunk, arrays(predictions))
            wrote_any = True
            rows_done = chunk.start + chunk.rows
            error_rows += sum(error is not None for error in predictions.errors)
            del chunk, predictions
            release_memory()
            if paths is not None:
                stream.flush()
                os.fsync(stream.fileno())
                _write_json_atomic(paths["state"], {
                    "version": _STATE_VERSION, "job": identity, "rows_done": rows_done,
                    "output_bytes": stream.tell(), "parts": writer.parts,
                    "columns": writer.columns})
            if progress is not None:
                progress(rows_done, rows_done - skip, reader.total_rows, reader.fraction())
        if not wrote_any:  # no rows: still write the header / schema
            writer.write(reader.empty_chunk(), arrays(predict_chunk(predictor, [],
                                                                    batch_size)))
        writer.finish()
        if paths is not None:
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
            os.replace(paths["partial"], Path(output_path).expanduser())
            _cleanup(paths)
    except (Exception, KeyboardInterrupt) as error:
        if paths is not None:
            stream.close()
            if not isinstance(error, KeyboardInterrupt):
                _cleanup(paths)  # nothing worth resuming after a data or option error
        raise
    finally:
        if writer is not None:
            writer.close()
    return ScoreResult(rows=rows_done, errors=error_rows, resumed_from=skip,
                       seconds=time.monotonic() - started, output=output_path,
                       output_format=out_fmt)


__all__ = ["score_file", "predict_chunk", "ChunkPredictions", "ScoreResult", "output_columns",
           "state_paths", "text_problem", "release_memory", "DEFAULT_CHUNK_SIZE"]
