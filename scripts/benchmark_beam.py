#!/usr/bin/env python
"""Benchmark scoring on the local Apache Beam runner against ``sentiment score``.

Writes the IMDB test set replicated ``--replicate`` times (250,000 rows by default, one
25,000-row row group per copy, as ``benchmark_scoring.py`` does) and scores it Parquet ->
Parquet twice, each in a fresh subprocess, in this order:

- ``sentiment.scoring.score_file`` (what ``sentiment score`` runs), one process;
- ``sentiment.beam.score_files`` on the local ``FnApiRunner`` with ``--workers`` worker
  threads (what ``sentiment score --engine beam`` runs without ``--runner``).

It prints rows/s, wall time (model loading included for both: Beam loads the model on its
workers) and peak resident memory (``ru_maxrss``) of each, checks that both wrote the same
rows with the same predictions (within 1e-6, matched by id) and prints the ratio.

    python scripts/benchmark_beam.py --model ~/.sentiment/models/default

Needs Apache Beam (``pip install -e ".[beam]"``), a trained IMDB model (``--model``, default
``$SENTIMENT_MODEL_DIR`` or ``~/.sentiment/models/default``) and the IMDB test file
(``--data``, default ``$SENTIMENT_DATA_DIR/imdb/test.parquet`` or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

from sentiment.paths import default_model_dir

from _common import (check_inputs, default_data, machine_line, peak_rss_mib, replicate,
                     run_child)  # scripts/_common.py


def child(args) -> dict:
    from sentiment.cli.options import inference_tensorflow

    inference_tensorflow()
    started = time.perf_counter()
    if args.child == "local":
        from sentiment.predictor import Predictor
        from sentiment.scoring import score_file

        rows = score_file(Predictor.load(args.model), args.input, args.output).rows
    else:
        from sentiment.beam import score_files

        rows = score_files(args.model, args.input, args.output, num_workers=args.workers).rows
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mib": peak_rss_mib()}


def compare(local: Path, beam_prefix: Path) -> float:
    """The largest ``predicted_score`` difference between the two outputs, matched by id;
    exits when their ids or labels differ."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    a = pq.read_table(local, columns=["id", "predicted_label", "predicted_score"])
    b = pa.concat_tables(pq.read_table(path, columns=["id", "predicted_label",
                                                      "predicted_score"])
                         for path in sorted(glob.glob(f"{beam_prefix}-*.parquet")))
    a, b = a.sort_by("id"), b.sort_by("id")
    if a.num_rows != b.num_rows or not a["id"].equals(b["id"]):
        sys.exit(f"the Beam output has {b.num_rows:,} rows, the local one {a.num_rows:,}, or "
                 "their ids differ")
    if not a["predicted_label"].equals(b["predicted_label"]):
        sys.exit("the Beam and local predicted labels differ")
    return float(np.max(np.abs(np.asarray(a["predicted_score"])
                               - np.asarray(b["predicted_score"]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--replicate", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="Local Beam worker threads.")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", choices=("local", "beam"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    check_inputs(args.model, args.data)
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        workdir = Path(workdir)
        source = workdir / f"imdb_test_x{args.replicate}.parquet"
        rows = replicate(args.data, source, args.replicate)
        print(machine_line())
        print(f"model: {args.model}; {rows:,} rows; Beam: FnApiRunner, {args.workers} "
              "worker threads", flush=True)
        local = run_child(__file__, "local", model=args.model, input=source,
                          output=workdir / "local.parquet")
        print(f"sentiment score: {local['rows_per_s']:,.1f} rows/s ({local['seconds']:,.0f} s "
              f"with model loading), peak RSS {local['peak_rss_mib']:,.0f} MiB", flush=True)
        beam = run_child(__file__, "beam", model=args.model, input=source,
                         output=workdir / "beam" / "scored", workers=args.workers)
        print(f"Beam, local runner: {beam['rows_per_s']:,.1f} rows/s ({beam['seconds']:,.0f} s "
              f"with model loading), peak RSS {beam['peak_rss_mib']:,.0f} MiB", flush=True)
        worst = compare(workdir / "local.parquet", workdir / "beam" / "scored")
        print(f"largest predicted_score difference, matched by id: {worst:.2e}")
        ratio = beam["rows_per_s"] / local["rows_per_s"]
        print(f"Beam / sentiment score: {ratio:.2f}x "
              f"({'met' if ratio >= 0.7 else 'NOT met'}: at least 0.7x)")


if __name__ == "__main__":
    main()
