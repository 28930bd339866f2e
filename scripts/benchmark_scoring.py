#!/usr/bin/env python
"""Benchmark ``sentiment score`` (streaming Parquet -> Parquet) against the plain recipe.

Scores the IMDB test set (25,000 reviews) and a copy replicated ``--replicate`` times
(250,000 rows by default, written with one 25,000-row row group per copy), each in a fresh
subprocess, and prints rows per second and the peak resident memory (``ru_maxrss``) of each.
In the same run, on the same 25,000 reviews:

- the *reference*: ``score_file`` with the Keras model run as it is, one batch at a time,
  and TensorFlow's oneDNN kernels off (``Predictor(fast_inference=False, threads=1)``,
  ``TF_ENABLE_ONEDNN_OPTS=0``): scoring as it ran before the inference work of issue 20 on a
  CPU where TensorFlow leaves oneDNN off, apart from the text pipeline's ``tf.function``;
- the plain recipe, on a random sample of ``--baseline-rows`` reviews: encode the texts, pad
  every row to the model's ``max_length``, ``model.predict(ids, batch_size=32)``.

The scoring runs set ``TF_ENABLE_ONEDNN_OPTS=1``, as ``sentiment score`` does.

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
import sys
import tempfile
import time
from pathlib import Path

from sentiment.paths import default_model_dir

from _common import (check_inputs, default_data, machine_line, peak_rss_mib, replicate,
                     run_child)  # scripts/_common.py


def child_score(args) -> dict:
    from sentiment.cli.options import quiet_tensorflow

    quiet_tensorflow()
    from sentiment.predictor import Predictor
    from sentiment.scoring import score_file

    if args.reference:  # the Keras model as it is, one batch at a time
        predictor = Predictor.load(args.model, fast_inference=False, threads=1)
    else:
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


#: The scoring runs ask for oneDNN, as `sentiment score` does.
ONEDNN_ON = {"TF_ENABLE_ONEDNN_OPTS": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_dir())
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
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = child_score(args) if args.child == "score" else child_baseline(args)
        print(json.dumps(result))
        return

    check_inputs(args.model, args.data)
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        workdir = Path(workdir)
        big = workdir / f"imdb_test_x{args.replicate}.parquet"
        rows_big = replicate(args.data, big, args.replicate)
        print(machine_line())
        print(f"model: {args.model}; batch size {args.batch_size}, chunk size {args.chunk_size}")
        baseline = run_child(__file__, "baseline", ONEDNN_ON, model=args.model, input=args.data,
                             baseline_rows=args.baseline_rows)
        print(f"plain recipe (model.predict, padded to max_length, batch 32), "
              f"{baseline['rows']:,} rows: {baseline['rows_per_s']:,.1f} rows/s, "
              f"peak RSS {baseline['peak_rss_mib']:,.0f} MiB", flush=True)
        reference = run_child(__file__, "score", {"TF_ENABLE_ONEDNN_OPTS": "0"},
                              ("--reference",), model=args.model,
                              input=args.data, output=workdir / "reference.parquet",
                              batch_size=args.batch_size, chunk_size=args.chunk_size)
        print(f"reference (Keras model as it is, one batch at a time, oneDNN off), "
              f"{reference['rows']:,} rows: {reference['rows_per_s']:,.1f} rows/s "
              f"({reference['seconds']:,.0f} s), peak RSS {reference['peak_rss_mib']:,.0f} MiB",
              flush=True)
        results = {}
        for name, path in (("25k", args.data), (f"{rows_big // 1000}k", big)):
            out = workdir / f"scored_{name}.parquet"
            results[name] = run_child(__file__, "score", ONEDNN_ON, model=args.model,
                                      input=path, output=out, batch_size=args.batch_size,
                                      chunk_size=args.chunk_size)
            r = results[name]
            print(f"sentiment score, {r['rows']:,} rows: {r['rows_per_s']:,.1f} rows/s "
                  f"({r['seconds']:,.0f} s), peak RSS {r['peak_rss_mib']:,.0f} MiB",
                  flush=True)
            if name == "25k":
                check_same_predictions(workdir / "reference.parquet", out)
            out.unlink()
        small, large = results.values()
        print(f"throughput vs reference: {small['rows_per_s'] / reference['rows_per_s']:.2f}x "
              f"(25k); vs plain recipe: {small['rows_per_s'] / baseline['rows_per_s']:.2f}x "
              f"(25k), {large['rows_per_s'] / baseline['rows_per_s']:.2f}x (large)")
        print(f"peak RSS large / 25k: {large['peak_rss_mib'] / small['peak_rss_mib']:.3f}")


def check_same_predictions(reference: Path, scored: Path) -> None:
    """Print the largest difference between the two runs' probabilities; exit if the
    labels or row count differ or a probability differs by more than 1e-5."""
    import numpy as np
    import pyarrow.parquet as pq

    a, b = pq.read_table(reference), pq.read_table(scored)
    columns = ["predicted_score"]  # the winning class's probability
    worst = max(float(np.max(np.abs(np.asarray(a[c]) - np.asarray(b[c])))) for c in columns)
    print(f"largest probability difference vs reference: {worst:.2e}", flush=True)
    if a.num_rows != b.num_rows or not a["predicted_label"].equals(b["predicted_label"]) or worst > 1e-5:
        sys.exit("the scored probabilities differ from the reference's by more than 1e-5")


if __name__ == "__main__":
    main()
