"""``sentiment score``: classify every row of a file, streaming, into a new file.

Registered on the ``sentiment`` group in ``sentiment.cli``. Imports nothing heavy at module
import: TensorFlow and pyarrow load inside the command.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import click

from ..io.formats import INPUT_FORMATS, OUTPUT_FORMATS  # pure Python: no pyarrow here
from .options import (
    CliError,
    decision_options,
    inference_batch_size_option,
    inference_tensorflow,
    model_option,
    sequence_column_option,
    text_column_option,
    translate_errors,
)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else \
        f"{rest // 60}:{rest % 60:02d}"


class _Progress:
    """One self-overwriting line on standard error: rows, rows per second, ETA."""

    def __init__(self):
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, rows: int, new_rows: int, total: int | None,
                 fraction: float | None) -> None:
        if new_rows == 0:  # scoring starts (the model is loaded)
            self.started = time.monotonic()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = new_rows / elapsed
        line = f"{rows:,} rows" + (f" / {total:,}" if total else "") + f"  {rate:,.0f} rows/s"
        if total and rate > 0:
            line += f"  ETA {_duration((total - rows) / rate)}"
        elif fraction and new_rows:
            line += f"  ETA {_duration(elapsed * (1 - fraction) / fraction)}"
        click.echo("\r" + line.ljust(60), nl=False, err=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the run stops cleanly between two chunks."""


def _raise_terminated(signum, frame):
    raise _Terminated()


@click.command("score")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", "output_path", type=click.Path(dir_okay=False, allow_dash=True),
              default=None, help="File to write (default: standard output). Written to a "
              "hidden temporary file beside it and renamed when complete. With --engine beam: "
              "the prefix of the output shards (PREFIX-00000-of-00004.jsonl).")
@model_option
@text_column_option
@sequence_column_option
@click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS), default=None,
              help="Input format (default: from the suffix; standard input is read as text "
              "lines, or JSON Lines with --format jsonl).")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default=None,
              help="Output format (default: from the suffix of -o, else the input's; text "
              "input writes jsonl; with --engine beam the input's).")
@click.option("--probabilities", is_flag=True,
              help="Add one prob_<label> column per class.")
@click.option("--overwrite-columns", is_flag=True,
              help="Replace input columns named predicted_label, predicted_score, prob_* or "
              "error instead of stopping.")
@inference_batch_size_option
@click.option("--chunk-size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Rows read, scored and written at a time (memory grows with it).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its last completed chunk.")
@click.option("--engine", type=click.Choice(["local", "beam"]), default="local",
              show_default=True,
              help="beam: run as an Apache Beam pipeline (pip install 'sentiment[beam]'); "
              "INPUT is then a file pattern (local, gs://, s3://, ...) and -o a prefix for "
              "the output shards. Rows come out in no particular order.")
@click.option("--runner", default=None,
              help="With --engine beam: the Beam runner (DataflowRunner, FlinkRunner, "
              "SparkRunner, ...; default: local, in-process, one worker per core).")
@click.option("--beam-option", "beam_options", multiple=True, metavar="KEY=VALUE",
              help="With --engine beam: a pipeline option, passed as --KEY=VALUE "
              "(repeatable), e.g. project=my-project, region=europe-west1.")
@click.option("--num-shards", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --engine beam: output files (0: the runner decides).")
@click.option("--quiet", is_flag=True, help="No progress or summary on standard error.")
@decision_options
@translate_errors
def score(input_path, output_path, model_dir, text_column, sequence_column, input_format,
          output_format,
          probabilities, overwrite_columns, batch_size, chunk_size, resume, engine, runner,
          beam_options, num_shards, quiet, decision):
    """Classify every row of INPUT (CSV, TSV, JSON Lines, Parquet, text lines, or - for
    standard input) and write it with predicted_label, predicted_score and error columns
    (a multi-label model: predicted_labels, prob_<label> per label and error).

    \b
      sentiment score tickets.csv -o scored.csv
      sentiment score export.parquet -o scored.parquet --probabilities
      cat lines.txt | sentiment score - > scored.jsonl
      sentiment score 'exports/day=*/part-*.parquet' -o scored/part --engine beam
      sentiment score frames.parquet -o scored.parquet --model models/vowels  # sequences

    A model over sequences reads its training --sequence-column (or the one given); a
    regression model writes predicted_value and error.
    """
    if engine == "beam":
        return _score_on_beam(input_path, output_path, model_dir,
                              _beam_input_column(model_dir, text_column, sequence_column),
                              input_format, output_format, probabilities, overwrite_columns,
                              batch_size, resume, runner, beam_options, num_shards, quiet,
                              decision, sequence_column=bool(sequence_column))
    if runner or beam_options or num_shards:
        raise click.UsageError("--runner, --beam-option and --num-shards need --engine beam")
    if resume and (output_path in (None, "-") or input_path == "-"):
        raise click.UsageError("--resume needs an input file and -o FILE")
    to_stdout = output_path in (None, "-")
    if to_stdout and sys.stdout.isatty() and (
            output_format == "parquet"
            or (output_format is None and Path(input_path).suffix.lower() in (".parquet", ".pq"))):
        raise click.UsageError("Parquet output is binary; give -o FILE or redirect standard "
                               "output")
    from ..artifacts import check_not_inside
    from ..paths import default_model_dir

    model_path = Path(model_dir).expanduser() if model_dir else default_model_dir()
    if not to_stdout:
        check_not_inside(output_path, model_path)  # never write over the model being used
    text_column = _input_column(model_path, text_column, sequence_column)
    inference_tensorflow()
    from ..predictor import Predictor
    from ..scoring import score_file, state_paths

    model_file = model_path / "model.keras"
    if not model_file.is_file():  # an ensemble: its config.json records every member file
        model_file = model_path / "config.json"
    model_id = str(model_path.absolute())
    if model_file.is_file():
        model_id += f"@{model_file.stat().st_mtime_ns}"
    # a resumed run must decide as the first one did
    model_id += " " + json.dumps(decision, sort_keys=True)
    progress = _Progress() if not quiet and sys.stderr.isatty() else None
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread
        pass
    try:
        result = score_file(
            lambda: Predictor.load(model_path, **decision), input_path, output_path,
            text_column=text_column, input_format=input_format, output_format=output_format,
            probabilities=probabilities, overwrite_columns=overwrite_columns,
            batch_size=batch_size, chunk_size=chunk_size, resume=resume, model_id=model_id,
            progress=progress)
    except KeyboardInterrupt as interrupt:
        if progress:
            progress.close()
        what = "terminated" if isinstance(interrupt, _Terminated) else "interrupted"
        if not to_stdout and state_paths(output_path)["state"].exists():
            click.echo(f"{what}; {output_path} was not written. Run the same command with "
                       "--resume to continue from the last completed chunk.", err=True)
        else:
            click.echo(f"{what}; nothing was written to the output path.", err=True)
        raise click.exceptions.Exit(130 if what == "interrupted" else 143) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if progress:
        progress.close()
    if not quiet:
        rate = (result.rows - result.resumed_from) / max(result.seconds, 1e-9)
        resumed = (f" (resumed after {result.resumed_from:,})" if result.resumed_from else "")
        click.echo(f"scored {result.rows:,} row{'s' if result.rows != 1 else ''}{resumed}, {result.errors:,} with errors, "
                   f"{rate:,.0f} rows/s -> {result.output or 'standard output'} "
                   f"({result.output_format})", err=True)


def _input_column(model_path, text_column, sequence_column):
    """The column to read: ``--sequence-column``, else for a model over sequences its
    training column (unless ``--text-column`` is given), else ``--text-column``."""
    from ..models.saving import SEQUENCE_SECTION, is_sequence_model

    sequences = is_sequence_model(model_path)
    if sequence_column and not sequences:
        raise click.UsageError("--sequence-column is for models over sequences; this model "
                               "reads texts (--text-column)")
    if sequence_column:
        return sequence_column
    if sequences and click.get_current_context().get_parameter_source(
            "text_column") is click.core.ParameterSource.DEFAULT:
        saved = json.loads((model_path / "config.json").read_text("utf-8"))
        return saved[SEQUENCE_SECTION].get("sequence_column", "frames")
    return text_column


def _beam_input_column(model_dir, text_column, sequence_column):
    """The column ``--engine beam`` reads: for a local model directory as
    :func:`_input_column` chooses it; for an export or a remote directory (``gs://...``,
    read only on the workers), the column named (``--sequence-column``, else an explicit
    ``--text-column``) or ``None``: the model's own, resolved when
    :func:`sentiment.beam.score_files` loads it.

    Raises:
        click.UsageError: ``--sequence-column`` with a local text model directory.
    """
    from ..config import CONFIG_FILE
    from ..paths import default_model_dir

    remote = bool(model_dir) and "://" in str(model_dir)
    path = None if remote else (Path(model_dir).expanduser() if model_dir
                                else default_model_dir())
    if path is not None and (path / CONFIG_FILE).is_file():
        return _input_column(path, text_column, sequence_column)
    if sequence_column:
        return sequence_column
    explicit = click.get_current_context().get_parameter_source(
        "text_column") is not click.core.ParameterSource.DEFAULT
    return text_column if explicit else None


def _score_on_beam(input_pattern, output_prefix, model_dir, text_column, input_format,
                   output_format, probabilities, overwrite_columns, batch_size, resume, runner,
                   beam_options, num_shards, quiet, decision, sequence_column=False):
    """``sentiment score --engine beam``: :func:`sentiment.beam.score_files`."""
    if input_pattern == "-" or output_prefix in (None, "-"):
        raise click.UsageError("--engine beam reads files (INPUT is a pattern) and needs "
                               "-o PREFIX for its output shards")
    if resume:
        raise click.UsageError("--resume is for --engine local; a Beam runner retries "
                               "failed work itself")
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise CliError("--engine beam needs Apache Beam: pip install 'sentiment[beam]'"
                       ) from None
    from ..paths import default_model_dir

    model = model_dir or str(default_model_dir())
    if "://" not in str(model) and "://" not in output_prefix:
        from ..artifacts import check_not_inside

        check_not_inside(output_prefix, Path(model).expanduser())
    inference_tensorflow()
    from ..beam import score_files

    started = time.monotonic()
    result = score_files(model, input_pattern, output_prefix, text_column=text_column,
                         input_format=input_format, output_format=output_format,
                         probabilities=probabilities, overwrite_columns=overwrite_columns,
                         batch_size=batch_size, runner=runner, beam_options=beam_options,
                         num_shards=num_shards, decision=decision,
                         sequence_column=sequence_column)
    if not quiet:
        seconds = time.monotonic() - started
        rows = "an unknown number of" if result.rows is None else f"{result.rows:,}"
        errors = "" if result.errors is None else f", {result.errors:,} with errors"
        click.echo(f"scored {rows} rows{errors} in {seconds:,.0f} s on Beam -> "
                   f"{output_prefix}-*.{result.output_format}", err=True)


__all__ = ["score", "CliError"]
