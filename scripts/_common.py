"""Defaults shared by the benchmark scripts that read the IMDB test set.

The model directory is :func:`sentiment.paths.default_model_dir` (``$SENTIMENT_MODEL_DIR`` or
``~/.sentiment/models/default``); the data directory is :func:`sentiment.paths.data_dir`
(``$SENTIMENT_DATA_DIR``), with the fallback a checkout needs and the library cannot know:
``../shared/data`` beside the project. Also the helpers the scoring benchmarks share. No TensorFlow.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

from sentiment.paths import data_dir

#: The project checkout these scripts belong to.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: How the benchmarks fine-tune a `sentiment pretrain` language model (ULMFiT's recipe in two
#: stages, Howard & Ruder 2018) in the pretrained rows of docs/benchmarks/unlabelled.md and
#: sequences.md: TrainingConfig settings, and the ClassifierConfig settings beside them.
FINE_TUNING = {"freeze_epochs": 1, "discriminative_decay": 2.6, "epochs": 6, "patience": 1}
FINE_TUNING_MODEL = {"max_length": 400}


def default_data() -> Path:
    """The IMDB test file: ``imdb/test.parquet`` below ``$SENTIMENT_DATA_DIR``, else below
    ``../shared/data`` beside the project."""
    return (data_dir() or PROJECT_ROOT.parent / "shared" / "data") / "imdb" / "test.parquet"


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def replicate(source: Path, target: Path, copies: int) -> int:
    """Write ``copies`` copies of ``source`` into ``target``, one row group per copy (ids
    suffixed with the copy number). Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    with pq.ParquetWriter(target, table.schema) as writer:
        for copy in range(copies):
            part = table
            if "id" in table.column_names and pa.types.is_string(table.schema.field("id").type):
                part = table.set_column(table.column_names.index("id"), "id",
                                        pc.binary_join_element_wise(table["id"], f"r{copy}", "-"))
            writer.write_table(part, row_group_size=table.num_rows)
    return table.num_rows * copies


def check_inputs(model: Path, data: Path) -> None:
    """Exit with a message naming what is missing: the model directory or the IMDB file."""
    if not (model / "model.keras").is_file():
        sys.exit(f"no model at {model}; train one (sentiment train) or pass --model DIR")
    if not data.is_file():
        sys.exit(f"no IMDB test file at {data}; set SENTIMENT_DATA_DIR or pass --data")


def machine_line() -> str:
    """``machine: x86_64, 2 CPUs, Linux-...; Python 3.11.7; load average 1.01``."""
    return (f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
            f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")


def run_child(script: str, mode: str, env: dict | None = None, flags: tuple = (),
              **kwargs) -> dict:
    """Run ``script --child MODE --key value ...`` in a fresh process and return the JSON
    object its last line prints; exit with its standard error if it fails."""
    command = [sys.executable, script, "--child", mode, *flags]
    for key, value in kwargs.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    completed = subprocess.run(command, capture_output=True, text=True,
                               env={**os.environ, **(env or {})})
    if completed.returncode != 0:
        sys.exit(f"{mode} run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
