#!/usr/bin/env python
"""Benchmark ``sentiment score`` (streaming Parquet -> Parquet) against the plain recipe.

Scores the IMDB test set (25,000 reviews) and a copy replicated ``--replicate`` times
(250,000 rows by default, written with one 25,000-row row group per copy), each in a fresh
subprocess, and prints rows per second and the peak resident memory (``ru_maxrss``) of each.
The plain recipe, measured in the same run on a random sample of ``--baseline-rows`` reviews,
encodes the texts, pads every row to the model's ``max_length`` and calls
``model.predict(ids, batch_size=32)``.

    python scripts/benchmark_scoring.py --model ~/.sentiment/models/default

Needs a trained IMDB model (``--model``, default ``$SENTIMENT_MODEL_DIR`` or
``~/.sentiment/models/default``) and the IMDB test file (``--data``, default
``$SENTIMENT_DATA_DIR/imdb/test.parquet`` or ``../shared/data`` beside the project).
Throughput counts the time of :func:`sentiment.scoring.score_file` (read, score, write), not
the model loading; the baseline counts encoding and prediction, not reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    root = os.environ.get("SENTIMENT_DATA_DIR")
    base = Path(root) if root else PROJECT_ROOT.parent / "shared" / "data"
    return base / "imdb" / "test.parquet"


def default_model() -> Path:
    value = os.environ.get("SENTIMENT_MODEL_DIR")
    return Path(value) if value else Path.home() / ".sentiment" / "models" / "default"


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def child_score(args) -> dict:
    from sentiment.cli.options import quiet_tensorflow

    quiet_tensorflow()
    from sentiment.predictor import Predictor
    from sentiment.scoring import score_file

    predictor = Predictor.load(args.model)
    predictor.predict_proba(["warm up the graph"])
    started = time.perf_counter()
    result = score_file(predictor, args.input, args.output, batch_size=args.batch_size,
                        chunk_size=args.chunk_size)
    seconds = time.perf_counter() - started
    return {"rows": result.rows, "seconds": seconds, "rows_per_s": result.rows / seconds,
            "peak_rss_mib": peak_rss_mib()}


def child_baseline(args) -> dict:
    from sentiment.cli.options import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np
    import pyarrow.parquet as pq

    from sentiment.predictor import Predictor

    predictor = Predictor.load(args.model)
    texts = pq.read_table(args.input, columns=["text"]).column("text").to_pylist()
    order = np.random.default_rng(0).permutation(len(texts))[:args.baseline_rows]
    texts = [texts[i] for i in order]
    max_length = predictor.config.max_length
    warm = predictor.encoder.encode(texts[:32]).to_tensor(shape=[None, max_length])
    predictor.model.predict(warm, batch_size=32, verbose=0)
    started = time.perf_counter()
    ids = predictor.encoder.encode(texts).to_tensor(shape=[None, max_length])
    probabilities = predictor.model.predict(ids, batch_size=32, verbose=0)
    seconds = time.perf_counter() - started
    assert probabilities.shape[0] == len(texts)
    return {"rows": len(texts), "seconds": seconds, "rows_per_s": len(texts) / seconds,
            "peak_rss_mib": peak_rss_mib()}


def run_child(mode: str, **kwargs) -> dict:
    command = [sys.executable, __file__, "--child", mode]
    for key, value in kwargs.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"{mode} run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model())
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--replicate", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000,
                        help="Random sample of the test set scored by the plain recipe.")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Where the replicated input and the outputs go (default: a "
                        "temporary directory, removed afterwards).")
    parser.add_argument("--child", choices=("score", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = child_score(args) if args.child == "score" else child_baseline(args)
        print(json.dumps(result))
        return

    if not (args.model / "model.keras").is_file():
        sys.exit(f"no model at {args.model}; train one (sentiment train --dataset imdb) or pass "
                 "--model DIR")
    if not args.data.is_file():
        sys.exit(f"no IMDB test file at {args.data}; set SENTIMENT_DATA_DIR or pass --data")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        workdir = Path(workdir)
        big = workdir / f"imdb_test_x{args.replicate}.parquet"
        rows_big = replicate(args.data, big, args.replicate)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
              f"Python {platform.python_version()}")
        print(f"model: {args.model}; batch size {args.batch_size}, chunk size {args.chunk_size}")
        baseline = run_child("baseline", model=args.model, input=args.data,
                             baseline_rows=args.baseline_rows)
        print(f"plain recipe (model.predict, padded to max_length, batch 32), "
              f"{baseline['rows']:,} rows: {baseline['rows_per_s']:,.1f} rows/s, "
              f"peak RSS {baseline['peak_rss_mib']:,.0f} MiB", flush=True)
        results = {}
        for name, path in (("25k", args.data), (f"{rows_big // 1000}k", big)):
            out = workdir / f"scored_{name}.parquet"
            results[name] = run_child("score", model=args.model, input=path, output=out,
                                      batch_size=args.batch_size, chunk_size=args.chunk_size)
            r = results[name]
            print(f"sentiment score, {r['rows']:,} rows: {r['rows_per_s']:,.1f} rows/s "
                  f"({r['seconds']:,.0f} s), peak RSS {r['peak_rss_mib']:,.0f} MiB",
                  flush=True)
            out.unlink()
        small, large = results.values()
        print(f"throughput vs plain recipe: {small['rows_per_s'] / baseline['rows_per_s']:.2f}x "
              f"(25k), {large['rows_per_s'] / baseline['rows_per_s']:.2f}x (large)")
        print(f"peak RSS large / 25k: {large['peak_rss_mib'] / small['peak_rss_mib']:.3f}")


if __name__ == "__main__":
    main()
