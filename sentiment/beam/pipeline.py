"""Scoring files on Apache Beam: read with Beam's IO, ``RunInference``, write with Beam's IO.

    INPUT_PATTERN (Parquet | JSON Lines | CSV | TSV | text lines; local or gs://, s3://, ...)
      -> ReadFromParquet / ReadFromText / fileio (CSV)       records (dicts), any order
      -> ScoreTexts: RunInference(SentimentModelHandler)     + predicted_label, predicted_score,
                                                               prob_<label>, error
                                                               (regression: predicted_value,
                                                               error)
      -> WriteToParquet / WriteToText                        OUTPUT_PREFIX-SSSSS-of-NNNNN.EXT

The model reads a text column, or for a model over sequences of vectors a sequence column
(a Parquet or JSON Lines list of frames, each a list of numbers, or a list of numbers; JSON
text of either in CSV and TSV), as ``sentiment score`` does.

Every input row yields exactly one output row carrying all its columns. **Beam does not keep
the input's order**, within a file or across files: keep a key column (an id) to join the
scores back. The same pipeline runs on the local runner (the default here, no network) and on
Dataflow, Flink or Spark (``runner`` and the options each needs; README.md "Scoring on a
cluster").
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from ..config import INFERENCE_BATCH_SIZE
from ..errors import ConfigError, DataError, ModelError, SentimentError
from ..io.formats import (ERROR_COLUMN, INPUT_FORMATS, LABEL_COLUMN, LABELS_COLUMN,
                          LABELS_DELIMITER, PROBABILITY_PREFIX, SCORE_COLUMN, VALUE_COLUMN,
                          suffix_format)
from ..scoring import decision_rule, is_regression, output_columns
from .handler import (INPUT_ERROR_FIELD, MAX_RECORDS_PER_BATCH, SentimentModelHandler,
                      load_predictor, model_input_column)

#: Output formats a Beam scoring run writes.
BEAM_OUTPUT_FORMATS = ("parquet", "jsonl", "csv", "tsv")
#: The runner used when none is named: Beam's portable local runner, in-process, which
#: needs no network (``DirectRunner`` in Beam 2.77 first tries the Prism runner, which
#: downloads a binary).
LOCAL_RUNNER = "FnApiRunner"


class ScoreTexts(beam.PTransform):
    """Records (dicts) -> the same records with ``sentiment score``'s prediction fields.

    Args:
        model_dir: a model directory or a ``sentiment export`` SavedModel, local or remote:
            a text classifier, a model over sequences of vectors, or a regression model.
        text_column: the field holding the text, or for a model over sequences the
            sequence; ``None``: the model's own (``text``, or the column a model over
            sequences was trained on).
        probabilities: add ``prob_<label>`` per class.
        min_batch_size, max_batch_size: records per ``RunInference`` batch.
        batch_size: texts (sequences) per model call within a batch (sorted by length).
        decision: ``threshold``, ``abstain_below``, ``abstain_label`` in place of the
            model's saved decision rule (:class:`sentiment.decisions.DecisionRule`).

    Output records: every input field, then ``predicted_label``, ``predicted_score``,
    ``prob_<label>`` (with ``probabilities``) and ``error`` (a multi-label model:
    ``predicted_labels``, every ``prob_<label>``, ``error``; a regression model:
    ``predicted_value``, ``error``); see
    :class:`sentiment.beam.handler.SentimentModelHandler`.
    """

    def __init__(self, model_dir: str | os.PathLike, *, text_column: str | None = None,
                 probabilities: bool = False, min_batch_size: int = INFERENCE_BATCH_SIZE,
                 max_batch_size: int = MAX_RECORDS_PER_BATCH,
                 batch_size: int = INFERENCE_BATCH_SIZE, decision: dict | None = None):
        super().__init__()
        self.handler = SentimentModelHandler(
            model_dir, text_column=text_column, probabilities=probabilities,
            min_batch_size=min_batch_size, max_batch_size=max_batch_size,
            batch_size=batch_size, decision=decision)

    def expand(self, records):
        return (records
                | "RunInference" >> RunInference(self.handler)
                | "Count" >> beam.ParDo(_CountRows()))


class _CountRows(beam.DoFn):
    """Counts scored rows and rows with an error (Beam metrics, namespace ``sentiment``)."""

    def __init__(self):
        self.rows = Metrics.counter("sentiment", "rows")
        self.errors = Metrics.counter("sentiment", "errors")

    def process(self, record):
        self.rows.inc()
        if record.get(ERROR_COLUMN) is not None:
            self.errors.inc()
        yield record


class _ParseJsonLine(beam.DoFn):
    """One JSON Lines line -> its object; a line that is not a JSON object becomes a record
    carrying the reason, so that it still yields an output row."""

    def process(self, line: str):
        if line.strip():  # blank lines are not rows, as in sentiment score
            yield self._record(line)

    @staticmethod
    def _record(line: str) -> dict:
        try:
            value = json.loads(line)
        except ValueError as error:
            return {INPUT_ERROR_FIELD: f"the line is not valid JSON ({error.msg}): "
                                       f"{line[:60]!r}"}
        if isinstance(value, dict):
            return value
        return {INPUT_ERROR_FIELD: f"the line is a JSON {type(value).__name__}, not an object"}


class _ReadDelimited(beam.DoFn):
    """One CSV/TSV file (a ``ReadMatches`` element) -> a dict per row, keyed by the header.

    A row with more or fewer fields than the header still yields a record, carrying the
    reason (``row 3 (line 4): expected 2 fields, found 4``), as ``sentiment score`` names it.
    """

    def __init__(self, delimiter: str):
        self.delimiter = delimiter

    def process(self, readable_file):
        with readable_file.open() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            # TSV has no quoting (the GLUE convention, as the local engine reads it)
            reader = csv.reader(text, delimiter=self.delimiter,
                                quoting=csv.QUOTE_MINIMAL if self.delimiter == ","
                                else csv.QUOTE_NONE)
            header = next(reader, None)
            if header is None:
                return
            row = 0
            for fields in reader:
                if not fields:
                    continue  # a blank line is not a row
                row += 1
                record = dict(zip(header, fields))
                if len(fields) != len(header):
                    record[INPUT_ERROR_FIELD] = (
                        f"{readable_file.metadata.path}: row {row} (line {reader.line_num}): "
                        f"expected {len(header)} fields, found {len(fields)}")
                yield record


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _to_json_value(value: Any) -> Any:
    """A list or dict as JSON text (CSV, TSV cells); anything else unchanged."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _to_json_line(record: dict) -> str:
    return json.dumps({key: _jsonable(value) for key, value in record.items()},
                      ensure_ascii=False, default=str)


def _to_delimited_line(record: dict, columns: Sequence[str], delimiter: str) -> str:
    # a list or a mapping (a sequence of frames from Parquet or JSON Lines) as JSON text,
    # as the local engine writes it, so that it reads back
    values = ["" if record.get(column) is None
              else _to_json_value(_jsonable(record.get(column))) for column in columns]
    if delimiter == "\t":  # TSV: no quoting; a tab or line break in a value is replaced
        return "\t".join(str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")
                         for value in values)
    buffer = io.StringIO()
    # "\r\n" as terminator makes the writer quote cells holding a line break; WriteToText
    # adds the line's own "\n"
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


def input_format_of(pattern: str, explicit: str | None = None) -> str:
    """The input format: ``explicit``, else from the pattern's suffix.

    Raises:
        ConfigError: when neither names one of ``INPUT_FORMATS``.
    """
    if explicit:
        if explicit not in INPUT_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(INPUT_FORMATS)}; received "
                              f"{explicit!r}")
        return explicit
    found = suffix_format(pattern)
    if found is None:
        raise ConfigError(f"cannot tell the format of {pattern!r} from its suffix; pass "
                          f"--format ({', '.join(INPUT_FORMATS)})")
    return found


def _first_line(path: str, blank_ok: bool = True) -> str:
    """The first line of ``path`` (the first non-blank one unless ``blank_ok``)."""
    with FileSystems.open(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
        for line in text:
            if blank_ok or line.strip():
                return line
    return ""


def _delimited_header(path: str, delimiter: str) -> list[str]:
    return next(csv.reader([_first_line(path)], delimiter=delimiter,
                           quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE),
                [])


@dataclass(frozen=True)
class _Layout:
    """What is known of the input before the pipeline runs: its columns (``None`` for JSON
    Lines, whose fields are whatever each line holds), their Arrow schema (Parquet), and the
    keys of the first JSON Lines record (to check the text column and clashes early)."""

    columns: list[str] | None
    schema: Any = None
    sample_keys: list[str] | None = None


def _matched_files(pattern: str) -> list[str]:
    """Every file matching ``pattern``, sorted.

    Raises:
        DataError: when nothing matches.
    """
    matched = sorted(metadata.path for metadata in
                     FileSystems.match([pattern])[0].metadata_list)
    if not matched:
        raise DataError(f"no file matches {pattern}")
    return matched


def _input_layout(pattern: str, input_format: str) -> _Layout:
    """The input's layout, read from the matched files' headers or schemas.

    Raises:
        DataError: when nothing matches, or when the Parquet files (or the CSV/TSV headers)
            do not all have the first file's columns (a writer needs one schema).
    """
    files = _matched_files(pattern)
    if input_format == "parquet":
        import pyarrow.parquet as pq

        schemas = []
        for path in files:  # metadata only: the footer of each file
            with FileSystems.open(path) as handle:
                schemas.append(pq.read_schema(handle).remove_metadata())
        for path, schema in zip(files[1:], schemas[1:]):
            if not schema.equals(schemas[0]):
                raise DataError(f"{path} has other columns or types than {files[0]} "
                                f"({schema.names} against {schemas[0].names}); files scored "
                                "together must share one schema")
        return _Layout(list(schemas[0].names), schemas[0])
    if input_format in ("csv", "tsv"):
        delimiter = "," if input_format == "csv" else "\t"
        headers = [_delimited_header(path, delimiter) for path in files]
        for path, header in zip(files[1:], headers[1:]):
            if header != headers[0]:
                raise DataError(f"{path} has other columns than {files[0]} ({header} against "
                                f"{headers[0]}); files scored together must share one header")
        return _Layout(headers[0])
    if input_format == "txt":
        return _Layout(["text"])
    try:  # JSON Lines: the first record's keys, for the early checks only
        first = json.loads(_first_line(files[0], blank_ok=False) or "{}")
    except ValueError:
        first = None
    return _Layout(None, sample_keys=list(first) if isinstance(first, dict) else None)


def read_records(pipeline, pattern: str, input_format: str, text_column: str = "text"):
    """``pipeline`` -> a PCollection of dict records read from the files matching
    ``pattern`` with Beam's IO (``text`` lines become ``{"text": line}``); every column is
    read, whatever ``text_column`` (kept for callers) names."""
    if input_format == "parquet":
        return pipeline | "ReadParquet" >> beam.io.ReadFromParquet(pattern)
    if input_format == "jsonl":
        return (pipeline | "ReadJsonLines" >> beam.io.ReadFromText(pattern)
                | "ParseJson" >> beam.ParDo(_ParseJsonLine()))
    if input_format in ("csv", "tsv"):
        # Beam's ReadFromCsv goes through its pandas-based DataFrame IO, which fails with
        # pandas 3 (it calls DataFrame.first, removed in pandas 3.0) and reads numbers as
        # numbers: each matched file is read by one worker with the csv module instead, every
        # cell a string, cells spanning lines kept whole.
        return (pipeline | "MatchCsv" >> fileio.MatchFiles(pattern)
                | "OpenCsv" >> fileio.ReadMatches()
                | "ReadCsv" >> beam.ParDo(_ReadDelimited("," if input_format == "csv"
                                                         else "\t")))
    return (pipeline | "ReadLines" >> beam.io.ReadFromText(pattern)
            | "AsRecords" >> beam.Map(lambda line: {"text": line}))


def _output_schema(schema, labels: Sequence[str], probabilities: bool,
                   multi_label: bool = False, regression: bool = False):
    """The Parquet input's ``schema`` without the columns scoring adds, then those columns
    with the types the local engine writes (``predicted_value`` float64, ``predicted_score``
    and ``prob_<label>`` float32, ``error`` string)."""
    import pyarrow as pa

    added = output_columns(labels, probabilities, multi_label, regression)
    fields = [field for field in schema if field.name not in added]
    if regression:
        return pa.schema([*fields, pa.field(VALUE_COLUMN, pa.float64()),
                          pa.field(ERROR_COLUMN, pa.string())])
    if multi_label:
        fields.append(pa.field(LABELS_COLUMN, pa.list_(pa.string())))
    else:
        fields += [pa.field(LABEL_COLUMN, pa.string()), pa.field(SCORE_COLUMN, pa.float32())]
    if probabilities or multi_label:
        fields += [pa.field(PROBABILITY_PREFIX + label, pa.float32()) for label in labels]
    fields.append(pa.field(ERROR_COLUMN, pa.string()))
    return pa.schema(fields)


def _join_labels(record: dict) -> dict:
    """A multi-label record's ``predicted_labels`` list as one delimited string (CSV, TSV)."""
    given = record.get(LABELS_COLUMN)
    return record if given is None else {**record,
                                         LABELS_COLUMN: LABELS_DELIMITER.join(given)}


def write_records(records, prefix: str, output_format: str, layout: _Layout,
                  labels: Sequence[str], probabilities: bool, num_shards: int = 0,
                  multi_label: bool = False, regression: bool = False):
    """Write scored records as ``prefix-SSSSS-of-NNNNN.<format>`` files with Beam's IO
    (a multi-label model's ``predicted_labels``: a list in Parquet and JSON Lines, joined by
    commas in CSV and TSV; a regression model's ``predicted_value``: float64).

    Raises:
        ConfigError: for Parquet output without a Parquet input (the schema must be known
            before the first row), or CSV/TSV output of JSON Lines input (so are the columns).
    """
    added = output_columns(labels, probabilities, multi_label, regression)
    if output_format == "parquet":
        if layout.schema is None:
            raise ConfigError("--engine beam writes Parquet from Parquet input only (the "
                              "schema must be known before the first row); use "
                              "--output-format jsonl")
        return records | "WriteParquet" >> beam.io.WriteToParquet(
            prefix, _output_schema(layout.schema, labels, probabilities, multi_label,
                                   regression),
            file_name_suffix=".parquet", num_shards=num_shards)
    if output_format == "jsonl":
        return (records | "ToJson" >> beam.Map(_to_json_line)
                | "WriteJsonLines" >> beam.io.WriteToText(
                    prefix, file_name_suffix=".jsonl", num_shards=num_shards))
    if layout.columns is None:
        raise ConfigError(f"--engine beam cannot write {output_format} from JSON Lines input "
                          "(the columns must be known before the first row); use "
                          "--output-format jsonl")
    delimiter = "," if output_format == "csv" else "\t"
    columns = [column for column in layout.columns if column not in added] + added
    header = _to_delimited_line({column: column for column in columns}, columns, delimiter)
    if multi_label:
        records = records | "JoinLabels" >> beam.Map(_join_labels)
    return (records | "ToDelimited" >> beam.Map(_to_delimited_line, columns, delimiter)
            | "WriteDelimited" >> beam.io.WriteToText(
                prefix, file_name_suffix=f".{output_format}", header=header,
                num_shards=num_shards))


def pipeline_options(runner: str | None = None, beam_options: Sequence[str] = (),
                     num_workers: int | None = None) -> PipelineOptions:
    """Beam options for a scoring run.

    Args:
        runner: a Beam runner name (``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``,
            ...); ``None`` runs locally on :data:`LOCAL_RUNNER`, in-process, with
            ``direct_num_workers`` worker threads (default: the machine's cores).
        beam_options: ``KEY=VALUE`` strings, passed to Beam as ``--KEY=VALUE``.
        num_workers: local worker threads (only without ``runner``; a
            ``direct_num_workers`` or ``direct_running_mode`` in ``beam_options`` wins).

    Raises:
        ConfigError: when an option is not ``KEY=VALUE``.
    """
    flags = []
    for option in beam_options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip() or key.startswith("-"):
            raise ConfigError(f"--beam-option must be KEY=VALUE (without leading dashes); "
                              f"received {option!r}")
        flags.append(f"--{key.strip()}={value}")
    given = {flag[2:].partition("=")[0] for flag in flags}
    if runner is None:  # defaults for the local runner, unless --beam-option sets them
        if "direct_running_mode" not in given:
            flags.append("--direct_running_mode=multi_threading")
        if "direct_num_workers" not in given:
            flags.append(f"--direct_num_workers={num_workers or os.cpu_count() or 1}")
    return PipelineOptions(flags)


def _runner(runner: str | None):
    if runner is not None:
        return runner
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


class PipelineError(SentimentError):
    """A Beam pipeline that failed while running (the message has Beam's last line)."""


def _existing_shards(prefix: str) -> list[str]:
    """The files matching ``prefix-*-of-*`` (shards of an earlier run under this prefix),
    sorted; none where the location cannot be listed (the write then reports it)."""
    try:
        return sorted(metadata.path for metadata in
                      FileSystems.match([prefix + "-*-of-*"])[0].metadata_list)
    except Exception:  # noqa: BLE001  an unreadable location
        return []


@dataclass(frozen=True)
class BeamScoreResult:
    """What a Beam scoring run did.

    Attributes:
        rows: rows written (counted by the pipeline; ``None`` where the runner reports no
            metrics).
        errors: rows with an ``error``.
        output_prefix: the prefix the shards were written under.
        output_format: ``parquet``, ``jsonl``, ``csv`` or ``tsv``.
        state: the pipeline's final state (``DONE``).
    """

    rows: int | None
    errors: int | None
    output_prefix: str
    output_format: str
    state: str


def _counter(result, name: str) -> int | None:
    try:
        counters = result.metrics().query(
            MetricsFilter().with_namespace("sentiment").with_name(name))["counters"]
    except Exception:  # noqa: BLE001  some runners report no metrics
        return None
    return sum(counter.committed or counter.attempted or 0 for counter in counters)


def _is_numeric_lists(kind) -> bool:
    """Whether the Arrow type ``kind`` is a list (of lists) of numbers: a sequence column."""
    import pyarrow as pa

    depth = 0
    while pa.types.is_list(kind) or pa.types.is_large_list(kind) or \
            pa.types.is_fixed_size_list(kind) or getattr(pa.types, "is_list_view",
                                                         lambda _: False)(kind):
        kind, depth = kind.value_type, depth + 1
    return 1 <= depth <= 2 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                                or pa.types.is_decimal(kind) or pa.types.is_null(kind))


def _is_text_type(kind) -> bool:
    """Whether the Arrow type ``kind`` holds strings (or only nulls)."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or getattr(pa.types, "is_string_view", lambda _: False)(kind)
            or pa.types.is_null(kind))


def _check_input_column(pattern: str, input_format: str, layout: _Layout, column: str,
                        sequences: bool) -> None:
    """Check before the pipeline starts that the input has the model's input column, of a
    type it can read: for a model over sequences a list (of lists) of numbers, or strings
    holding JSON text (CSV, TSV, a Parquet string column), as the local engine reads them;
    for a text model strings. Parquet is checked on its schema, CSV and TSV on the header,
    JSON Lines on the first record's keys (the values are checked row by row: a bad one
    gets an ``error`` cell).

    Raises:
        DataError: naming ``pattern`` and ``column``: the column is missing (listing the
            columns), its Parquet type cannot hold the model's input, or a model over
            sequences is given text lines.
    """
    option = "--sequence-column" if sequences else "--text-column"
    if sequences and input_format == "txt":
        raise DataError(f"{pattern}: text lines hold texts, and this model reads sequences of "
                        "vectors; give Parquet or JSON Lines with a list column (or CSV / TSV "
                        "with JSON text), and --sequence-column")
    known = layout.columns if layout.columns is not None else layout.sample_keys
    if known is not None and column not in known:
        raise DataError(f"{pattern}: no column {column!r}; columns are "
                        f"{', '.join(map(repr, known))} ({option})")
    if layout.schema is None:
        return
    kind = layout.schema.field(column).type
    if sequences and not (_is_numeric_lists(kind) or _is_text_type(kind)):
        raise DataError(f"{pattern}: column {column!r} holds {kind}, and this model reads "
                        "sequences of vectors: a list of frames (lists of numbers) or a list "
                        f"of numbers per row ({option})")
    if not sequences and not _is_text_type(kind):
        raise DataError(f"{pattern}: column {column!r} holds {kind}, not texts (strings); "
                        f"this model reads texts ({option})")


def score_files(model_dir: str | os.PathLike, input_pattern: str, output_prefix: str, *,
                text_column: str | None = None, input_format: str | None = None,
                output_format: str | None = None, probabilities: bool = False,
                overwrite_columns: bool = False,
                batch_size: int = INFERENCE_BATCH_SIZE, runner: str | None = None,
                beam_options: Sequence[str] = (), num_workers: int | None = None,
                num_shards: int = 0, decision: dict | None = None,
                sequence_column: bool = False) -> BeamScoreResult:
    """Score every row of the files matching ``input_pattern`` on Apache Beam.

    Args:
        model_dir: a model directory or a ``sentiment export`` SavedModel (local, or a URL
            the workers can read, e.g. ``gs://bucket/models/imdb``): a text classifier, a
            model over sequences of vectors, or a regression model (which writes
            ``predicted_value`` and ``error``).
        input_pattern: a file pattern (``data/day=*/part-*.parquet``,
            ``gs://bucket/export/*.jsonl``).
        output_prefix: shards are written as ``PREFIX-SSSSS-of-NNNNN.<format>``.
        text_column: the column holding the text, or for a model over sequences the
            sequences (a Parquet list column, JSON Lines lists, or JSON text in CSV and
            TSV); ``None``: the model's own (``text``, or the column a model over
            sequences was trained on).
        input_format: as ``sentiment score --format`` (default: from the pattern's suffix).
        output_format: ``parquet``, ``jsonl``, ``csv`` or ``tsv`` (default: the input's; text
            lines write ``jsonl``).
        probabilities: add ``prob_<label>`` columns.
        overwrite_columns: replace input columns named like the added ones (checked against
            the first file's columns for Parquet, CSV and TSV; a JSON Lines record's fields
            are replaced).
        batch_size: texts per model call (each Beam batch of up to 4,096 records is sorted
            by length into model batches).
        runner, beam_options, num_workers: see :func:`pipeline_options`.
        num_shards: output files (0: the runner decides).
        decision: ``threshold``, ``abstain_below``, ``abstain_label`` in place of the
            model's saved decision rule (checked here, before the pipeline starts).
        sequence_column: ``text_column`` was named as a column of sequences
            (``--sequence-column``): a model that reads texts is refused before the pipeline
            starts.

    Returns:
        :class:`BeamScoreResult`.

    Raises:
        ConfigError: an unknown format, a bad option, or an output format the input cannot
            give (see :func:`write_records`).
        DataError: when no file matches ``input_pattern``, the files do not share one
            schema or header, the input column is missing or of a type the model cannot
            read (:func:`_check_input_column`), or the input already has a column scoring
            adds and not ``overwrite_columns``.
        ConfigError: also when shards from an earlier run exist under ``output_prefix``,
            or the runner is unknown.
        PipelineError: when the pipeline fails while running.
        ModelError: when the model cannot be loaded (checked here before the pipeline
            starts when ``model_dir`` is local).
        ConfigError: also for ``sequence_column`` with a model that reads texts.
    """
    input_format = input_format_of(input_pattern, input_format)
    output_format = output_format or ("jsonl" if input_format == "txt" else input_format)
    if output_format not in BEAM_OUTPUT_FORMATS:
        raise ConfigError(f"--output-format must be one of {', '.join(BEAM_OUTPUT_FORMATS)}; "
                          f"received {output_format!r}")
    layout = _input_layout(input_pattern, input_format)
    existing = _existing_shards(output_prefix)
    if existing:
        raise ConfigError(f"{len(existing)} output shard(s) already exist under "
                          f"{output_prefix} ({existing[0]}, ...); remove them or choose "
                          "another -o prefix (a run's shards would mix with them)")
    if "://" not in str(model_dir) and not os.path.exists(os.path.expanduser(str(model_dir))):
        raise ModelError(f"{model_dir} does not exist; train one with `sentiment train` "
                         "or pass --model DIR")
    # the model checked before any worker starts; its kind, labels and input column give
    # the output's columns and the input's checks
    checked = load_predictor(str(model_dir), decision)
    sequences = getattr(checked, "inputs", "texts") == "sequences"
    if sequence_column and not sequences:
        named = f" {text_column!r}" if text_column else ""
        raise ConfigError(f"--sequence-column{named}: the model {model_dir} reads texts; name "
                          "its column with --text-column")
    text_column = text_column or model_input_column(checked)
    _check_input_column(input_pattern, input_format, layout, text_column, sequences)
    labels, regression = list(checked.labels), is_regression(checked)
    multi_label = not regression and decision_rule(checked).multi_label
    added = output_columns(labels, probabilities, multi_label, regression)
    known = layout.columns if layout.columns is not None else layout.sample_keys
    clash = [name for name in known or () if name in added]
    if clash and not overwrite_columns:
        raise DataError(f"{input_pattern}: the input already has the column(s) "
                        f"{', '.join(map(repr, clash))}, which scoring adds; rename them or "
                        "pass --overwrite-columns to replace them")
    options = pipeline_options(runner, beam_options, num_workers)
    try:
        pipeline = beam.Pipeline(runner=_runner(runner), options=options)
    except ValueError as error:  # an unknown runner name
        raise ConfigError(f"--runner {runner!r}: {error}") from None
    records = read_records(pipeline, input_pattern, input_format, text_column)
    scored = records | "ScoreTexts" >> ScoreTexts(
        str(model_dir), text_column=text_column, probabilities=probabilities,
        batch_size=batch_size, decision=decision)
    write_records(scored, output_prefix, output_format, layout, labels, probabilities,
                  num_shards=num_shards, multi_label=multi_label, regression=regression)
    try:
        result = pipeline.run()
        state = result.wait_until_finish()
    except Exception as error:  # noqa: BLE001  Beam wraps worker errors in its own types
        message = str(error).strip().splitlines()
        raise PipelineError(f"the Beam pipeline failed: {type(error).__name__}: "
                            f"{message[-1] if message else ''} (set SENTIMENT_DEBUG=1 for the "
                            "traceback)") from (error if os.environ.get("SENTIMENT_DEBUG")
                                                else None)
    if str(state) not in ("DONE", "PipelineState.DONE"):
        raise PipelineError(f"the Beam pipeline ended in state {state}")
    return BeamScoreResult(_counter(result, "rows"), _counter(result, "errors"),
                           output_prefix, output_format, str(state))
