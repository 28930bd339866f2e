#!/usr/bin/env python
"""Issue 24's benchmarks: models over sequences of vectors on Japanese Vowels (test accuracy
and training time of each encoder, beside published figures), and IMDB rating regression
from text (``--sections imdb``).

Japanese Vowels (Kudo et al. 1999; UCI; the UEA multivariate archive): 270 training and 370
test utterances of 7-29 frames of 12 LPC cepstrum coefficients, 9 speakers. Each row trains
with `sentiment.sequences.training.train_sequence_model` (what `sentiment train --dataset
japanese_vowels` runs), a tenth of the training utterances held out for early stopping, and
reports accuracy on the 370 test utterances. Published: DTW 1-NN about 95% and the best
classifiers 98-99% (the UEA multivariate bake-off, Ruiz et al. 2021). Target: >= 98% for the
best encoder, trained in under a minute.

IMDB ratings (``imdb``): the reviews' 1-4 and 7-10 star ratings as numeric targets. IMDB train
is split (seeded) into 22,500 reviews for training and 2,500 for validation; every row is
scored on the 25,000 test reviews (MAE, RMSE, Spearman). Rows: the training mean (the
baseline that predicts one number); the default two-class GRU's probability of "positive"
mapped to 1-10 by a least-squares line fitted on the validation reviews; the default GRU
trained with ``--task regression --clip-range 1,10`` and each loss of
``--regression-losses`` (``mse``, ``huber``, ``mae``). Every model trains for at most
``--imdb-epochs`` (3) from the seed ``--imdb-seed``. With ``--imdb-pretrained LM`` (a
``sentiment pretrain`` directory) both the two-class model and the regression models are
fine-tuned from that language model instead, with the fine-tuning settings of
docs/benchmarks/unlabelled.md (``--freeze-epochs 1 --discriminative-decay 2.6
--max-length 400``), so the comparison stays like for like. Target: the regression model
ahead of both on MAE and Spearman.

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_sequences.py
    python scripts/benchmark_sequences.py --rows gru,cnn --seeds 0,1,2 --json out.json
    python scripts/benchmark_sequences.py --sections imdb
    python scripts/benchmark_sequences.py --sections imdb --regression-losses mae --imdb-epochs 6
    python scripts/benchmark_sequences.py --sections imdb --regression-losses mae --imdb-epochs 6 \
        --imdb-pretrained /tmp/unl/lm          # scripts/benchmark_unlabelled.py's language model

Prints a Markdown table (and JSON with --json PATH).
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

from _common import FINE_TUNING, FINE_TUNING_MODEL, machine_line  # noqa: E402  scripts/_common.py

#: name -> (SequenceModelConfig settings, SequenceTrainingConfig settings)
ROWS = {
    "gru": ({"arch": "gru"}, {}),
    "gru-128-mean": ({"arch": "gru", "units": 128, "pooling": "mean"}, {}),
    "lstm": ({"arch": "lstm"}, {}),
    "bigru": ({"arch": "bigru"}, {}),
    "bigru-2": ({"arch": "bigru", "layers": 2, "frame_units": 32}, {}),
    "cnn": ({"arch": "cnn"}, {}),
    "cnn-128": ({"arch": "cnn", "filters": 128, "kernel_sizes": (2, 3, 5)}, {}),
    "cnn-gru": ({"arch": "cnn-gru"}, {}),
}


def run(name: str, seed: int, train, test, work: Path) -> dict:
    from sentiment.config.sequence import SequenceModelConfig, SequenceTrainingConfig
    from sentiment.sequences.training import train_sequence_model

    model, training = ROWS[name]
    started = time.perf_counter()
    result = train_sequence_model(train, SequenceModelConfig(**model),
                                  SequenceTrainingConfig(**training, seed=seed),
                                  work / f"{name}-{seed}", test=test, verbose=0)
    return {"name": name, "seed": seed, "test_accuracy": result.metrics["test"]["accuracy"],
            "epochs_run": result.metrics["training"]["epochs_run"],
            "train_seconds": result.metrics["training"]["seconds"],
            "total_seconds": round(time.perf_counter() - started, 1),
            "settings": {**model, **training}}


def imdb_ratings(work: Path, losses: list[str], epochs: int = 3, seed: int = 1337,
                 pretrained: str | None = None) -> list[dict]:
    """The IMDB rating rows (see the module docstring); every model trains for at most
    ``epochs`` (early stopping on validation loss, patience 1) from the seed ``seed``, and
    is fine-tuned from the language model directory ``pretrained`` when one is given."""
    import numpy as np

    from sentiment import Predictor
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import LabelledTexts, load_labelled_file
    from sentiment.evaluation import regression_targets
    from sentiment.metrics import regression_report
    from sentiment.paths import data_dir
    from sentiment.training import train_classifier

    folder = data_dir() / "imdb"
    rated = load_labelled_file(folder / "train.parquet", "text", "rating")
    polar = load_labelled_file(folder / "train.parquet", "text", "label")
    test = load_labelled_file(folder / "test.parquet", "text", "rating")
    order = np.random.default_rng(0).permutation(len(rated))
    fit_rows, held_rows = np.sort(order[:22500]), np.sort(order[22500:])

    def subset(data, rows, name):
        return LabelledTexts(tuple(data.texts[i] for i in rows),
                             tuple(data.labels[i] for i in rows), name)

    # With a language model: the fine-tuning settings of docs/benchmarks/unlabelled.md, but
    # this benchmark's epochs and seed.
    model, tuning = (FINE_TUNING_MODEL, {**FINE_TUNING, "pretrained": pretrained}
                     ) if pretrained else ({}, {})
    tuning = {**tuning, "epochs": epochs, "seed": seed}
    start = "pretrained " if pretrained else ""
    y_test = regression_targets(test)
    held = subset(rated, held_rows, "imdb train (validation)")
    rows = [{"name": "training mean", **regression_report(
        y_test, np.full(len(y_test), regression_targets(subset(rated, fit_rows, "t")).mean()))}]
    started = time.perf_counter()
    train_classifier(subset(polar, fit_rows, "imdb train"), ClassifierConfig(**model),
                     TrainingConfig(**tuning), work / "polar",
                     validation=subset(polar, held_rows, "v"),
                     label_names={"0": "negative", "1": "positive"}, verbose=2)
    classifier = Predictor.load(work / "polar")
    positive = list(classifier.labels).index("positive")
    slope, intercept = np.polyfit(classifier.predict_proba(held.texts)[:, positive],
                                  regression_targets(held), 1)
    mapped = np.clip(slope * classifier.predict_proba(test.texts)[:, positive] + intercept,
                     1, 10)
    rows.append({"name": f"{start}two-class GRU (--epochs {epochs}), P(positive) -> "
                         f"{slope:.2f} p + {intercept:.2f}",
                 "minutes": round((time.perf_counter() - started) / 60, 1),
                 **regression_report(y_test, mapped)})
    for loss in losses:
        started = time.perf_counter()
        train_classifier(subset(rated, fit_rows, "imdb train"),
                         ClassifierConfig(task="regression", clip_range=(1, 10), **model),
                         TrainingConfig(regression_loss=loss, **tuning),
                         work / f"rating-{loss}",
                         validation=held, verbose=2)
        values = Predictor.load(work / f"rating-{loss}").predict_values(test.texts)
        rows.append({"name": f"{start}GRU --task regression --regression-loss {loss} "
                             f"--clip-range 1,10 --epochs {epochs}",
                     "minutes": round((time.perf_counter() - started) / 60, 1),
                     **regression_report(y_test, values)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated rows of {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds per row")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--regression-losses", default="mse,huber",
                        help="imdb: the regression rows' losses, comma-separated")
    parser.add_argument("--imdb-epochs", type=int, default=3,
                        help="imdb: most epochs of every model, classifier and regression "
                        "(early stopping, patience 1)")
    parser.add_argument("--imdb-seed", type=int, default=1337,
                        help="imdb: the training seed of every model (the split stays seed 0)")
    parser.add_argument("--imdb-pretrained", default=None, metavar="LM",
                        help="imdb: fine-tune every model (classifier and regression) from "
                        "this `sentiment pretrain` directory")
    parser.add_argument("--sections", default="vowels",
                        help="comma-separated: vowels (Japanese Vowels), imdb (ratings)")
    args = parser.parse_args()
    sections = args.sections.split(",")
    if "imdb" in sections:
        with tempfile.TemporaryDirectory() as work:
            rated = imdb_ratings(Path(work), args.regression_losses.split(","),
                                 args.imdb_epochs, args.imdb_seed, args.imdb_pretrained)
        print(f"\n{machine_line()}\n")
        print("| IMDB test ratings | MAE | RMSE | Spearman | R2 | minutes |")
        print("|---|---|---|---|---|---|")
        def cell(value, digits=4):
            return "-" if value is None else f"{value:.{digits}f}"

        for row in rated:
            print(f"| {row['name']} | {cell(row['mae'], 3)} | {cell(row['rmse'], 3)} | "
                  f"{cell(row['spearman'])} | {cell(row['r2'])} | {row.get('minutes', '-')} |")
        if args.json:
            args.json.write_text(json.dumps(rated, indent=2) + "\n")
    if "vowels" not in sections:
        return
    from sentiment.sequences.data import load_sequence_dataset

    train, test = load_sequence_dataset("japanese_vowels")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.rows.split(","):
            for seed in seeds:
                rows.append(run(name, seed, train, test, Path(work)))
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{machine_line()}\n")
    print("| encoder | settings | test accuracy, mean (min-max) over seeds | epochs | "
          "training seconds, mean |")
    print("|---|---|---|---|---|")
    for name in args.rows.split(","):
        mine = [r for r in rows if r["name"] == name]
        accuracies = [r["test_accuracy"] for r in mine]
        print(f"| {name} | `{json.dumps(mine[0]['settings'])}` | "
              f"{sum(accuracies) / len(accuracies):.4f} ({min(accuracies):.4f}-"
              f"{max(accuracies):.4f}) | "
              f"{sum(r['epochs_run'] for r in mine) / len(mine):.0f} | "
              f"{sum(r['train_seconds'] for r in mine) / len(mine):.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
