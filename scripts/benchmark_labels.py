#!/usr/bin/env python
"""Label-set benchmarks (issue 23): calibrated probabilities.

Calibration: trains the default classifier (`sentiment train` with no options) on IMDB
train (10% held out for validation) and on SST-2's training phrases, each evaluated on its
test split (IMDB test, 25,000 reviews; GLUE SST-2 dev, 872 sentences), and prints the
temperature fitted on the validation split (temperature scaling, Guo et al., ICML 2017) with
the expected calibration error (10 equal-width bins) and the log loss of the test split
before and after it. Target: ECE <= 0.02 on IMDB test for the default model.

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_labels.py
    python scripts/benchmark_labels.py --datasets sst2 --limit 5000   # a quick run

Prints a Markdown table and writes JSON with --json PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "SENTIMENT_DATA_DIR" not in os.environ:
    os.environ["SENTIMENT_DATA_DIR"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")

from _common import machine_line  # noqa: E402  scripts/_common.py

ECE_TARGET = 0.02


def calibration_row(name: str, limit: int | None, output: Path) -> dict:
    """Train the default model on ``name`` and return its calibration figures."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import load_named_dataset
    from sentiment.training import train_classifier

    splits = load_named_dataset(name)
    train = splits.train.sample(limit, TrainingConfig().seed) if limit else splits.train
    started = time.perf_counter()
    result = train_classifier(train, ClassifierConfig(), TrainingConfig(), output,
                              test=splits.test, label_names=splits.label_names, verbose=0)
    calibration = result.metrics["calibration"]
    return {"dataset": name, "train_examples": len(train),
            "test_examples": result.metrics["test"]["examples"],
            "test_accuracy": result.metrics["test"]["accuracy"],
            "temperature": calibration["temperature"],
            "skipped": calibration.get("skipped"),
            **{f"test_{key}": value for key, value in calibration["test"].items()},
            **{f"validation_{key}": value for key, value in calibration["validation"].items()},
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="imdb,sst2",
                        help="Comma-separated named data sets (imdb, sst2).")
    parser.add_argument("--limit", type=int, default=None,
                        help="Train on a seeded sample of this many examples (quick runs).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args()

    print(machine_line(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="benchmark-labels-") as tmp:
        for name in args.datasets.split(","):
            rows.append(calibration_row(name, args.limit, Path(tmp) / name))
            print(f"{name}: trained and evaluated in {rows[-1]['seconds']:.0f} s", flush=True)
    print("\n| data set | test examples | test accuracy | temperature | test ECE before | "
          "after | test log loss before | after |\n|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['dataset']} | {row['test_examples']:,} | {row['test_accuracy']:.4f} | "
              f"{row['temperature']:.3f} | {row['test_ece_before']:.4f} | "
              f"{row['test_ece_after']:.4f} | {row['test_log_loss_before']:.4f} | "
              f"{row['test_log_loss_after']:.4f} |")
    imdb = next((row for row in rows if row["dataset"] == "imdb" and not args.limit), None)
    if imdb is not None:
        met = imdb["test_ece_after"] <= ECE_TARGET
        print(f"\n{'met' if met else 'NOT met'}: ECE <= {ECE_TARGET} on IMDB test "
              f"({imdb['test_ece_after']:.4f})")
    if args.json:
        args.json.write_text(json.dumps({"calibration": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
