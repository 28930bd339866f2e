"""Model zoo benchmark: every architecture and both tokenizers on SST-2 and IMDB.

For each data set, architecture and tokenizer it trains a classifier with `train_classifier`
(10% of the training data carved out for validation, early stopping on validation loss) and
reports test accuracy (SST-2: GLUE dev, 872 sentences; IMDB: test), training examples per second
(`metrics.json`) and end-to-end prediction texts per second (raw text -> probabilities through
`Predictor.predict_proba`, batch 256, over the evaluated texts). It also reports the
out-of-vocabulary rate of a word vocabulary and a WordPiece vocabulary learned on IMDB train,
measured on IMDB test.

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_models.py \\
        --output benchmark_models.jsonl
    python scripts/benchmark_models.py --datasets sst2 --archs cnn --tokenizers wordpiece \\
        --sst2-limit 2000 --epochs 1      # a quick smoke run

Results are appended to --output (JSON Lines) as each run ends, so an interrupted run keeps
what it measured; --table-only PATH prints the markdown table of such a file.

--seeds 1337,1338,... trains each row once per seed (initialisation, shuffling; the data split
stays --seed's), --adversarial EPSILON trains with adversarial training, and
--save-probabilities DIR keeps each row's test probabilities for ensemble_combinations.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "SENTIMENT_DATA_DIR" not in os.environ:
    os.environ["SENTIMENT_DATA_DIR"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")

import numpy as np  # noqa: E402

#: Settings shared by every benchmarked model, pinned here so that a change of the library's
#: defaults does not change the benchmark.
BASE = {"embedding_dim": 128, "units": 64, "layers": 1, "pooling": "max", "dropout": 0.3,
        "embedding_dropout": 0.0,
        "truncation": "head", "min_frequency": 2, "filters": 100, "kernel_sizes": (3, 4, 5),
        "pool_size": 2}
#: Row name -> ClassifierConfig settings that differ from BASE.
MODELS = {
    "lstm": {"arch": "lstm"},
    "gru": {"arch": "gru"},
    "bilstm": {"arch": "bilstm"},
    "bigru": {"arch": "bigru"},
    "bigru-attention": {"arch": "bigru", "pooling": "attention"},
    "cnn": {"arch": "cnn", "dropout": 0.5},
    "cnn-lstm": {"arch": "cnn-lstm"},
    "cnn-gru": {"arch": "cnn-gru"},
    "fasttext": {"arch": "fasttext", "pooling": "mean"},
    "fasttext-bigrams": {"arch": "fasttext", "pooling": "mean", "ngrams": 2},
}
TOKENIZERS = ("unicode_script", "wordpiece")


def subset(data, n: int | None, seed: int):
    """A seeded random subset of ``n`` rows (IMDB files are sorted by label), or all rows."""
    if n is None or n >= len(data):
        return data
    return data.select(np.sort(np.random.default_rng(seed).permutation(len(data))[:n]))


def run_one(dataset: str, splits, model: str, tokenizer: str, seed: int, args,
            vocabularies: dict) -> dict:
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.predictor import Predictor
    from sentiment.labels import label_indices
    from sentiment.text.pipeline import build_vocabulary
    from sentiment.training import train_classifier

    overrides = dict(MODELS[model], tokenizer=tokenizer, vocab_size=args.vocab_size,
                     max_length=args.max_length[dataset])
    config = ClassifierConfig(**{**BASE, **overrides})
    training = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size,
                              learning_rate=2e-3, optimizer=args.optimizer, patience=1,
                              ema_momentum=args.ema_momentum, adversarial=args.adversarial,
                              seed=seed)
    # every row of a data set trains on the same split: learn each vocabulary once (WordPiece
    # on IMDB train takes about 15 minutes); not counted in the training time
    key = (dataset, tokenizer, config.ngrams)
    if key not in vocabularies:
        vocabularies[key] = build_vocabulary(splits["train"].texts, config)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = train_classifier(splits["train"], config, training, Path(tmp) / "model",
                                  validation=splits["validation"], test=splits["test"],
                                  label_names={"0": "negative", "1": "positive"},
                                  vocabulary=vocabularies[key], verbose=0)
        wall = time.perf_counter() - started
        predictor = Predictor.load(Path(tmp) / "model")
        predictor.predict_proba(splits["test"].texts[:256], batch_size=256)  # trace once
        started = time.perf_counter()
        probabilities = predictor.predict_proba(splits["test"].texts, batch_size=256)
        predict_seconds = time.perf_counter() - started
    if args.save_probabilities:  # test probabilities and labels, for ensemble_combinations.py
        save_probabilities(Path(args.save_probabilities), f"{dataset}-{model}-{tokenizer}-"
                           f"{seed}", probabilities,
                           label_indices(splits["test"], result.config))
    metrics = result.metrics
    return {
        "dataset": dataset, "model": model, "tokenizer": tokenizer,
        "config": {k: v for k, v in result.config.to_dict().items()
                   if k not in ("labels", "label_values")},
        "optimizer": training.optimizer, "ema_momentum": training.ema_momentum,
        "adversarial": training.adversarial, "seed": seed,
        "train_examples": len(splits["train"]), "test_examples": len(splits["test"]),
        "accuracy": metrics["test"]["accuracy"],
        "train_examples_per_second": metrics["training"]["examples_per_second"],
        "predict_texts_per_second": round(len(splits["test"]) / predict_seconds, 1),
        "epochs_run": metrics["training"]["epochs_run"],
        "best_epoch": metrics["training"]["best_epoch"],
        "weights": metrics["training"]["weights"],
        "vocabulary_size": metrics["training"]["vocabulary_size"],
        "wall_seconds": round(wall, 1),
    }


def save_probabilities(directory: Path, name: str, probabilities: np.ndarray,
                       labels: np.ndarray) -> None:
    """Write ``name.npz`` with a model's test ``probabilities`` ``(n, classes) float32`` and
    the true class indices ``labels`` ``(n,) int32``."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / f"{name}.npz", probabilities=probabilities, labels=labels)


def oov_rates(train, test, vocab_size: int) -> list[dict]:
    """OOV rate on ``test`` of the word and WordPiece vocabularies learned on ``train``."""
    from sentiment.config import ClassifierConfig
    from sentiment.text.encoder import TextEncoder
    from sentiment.text.wordpiece import make_tokenizer, oov_rate
    from sentiment.text.pipeline import build_vocabulary

    rows = []
    for kind in TOKENIZERS:
        config = ClassifierConfig(tokenizer=kind, vocab_size=vocab_size, min_frequency=2)
        started = time.perf_counter()
        vocabulary = build_vocabulary(train.texts, config)
        seconds = time.perf_counter() - started
        rate = oov_rate(TextEncoder(make_tokenizer(kind), vocabulary, 10**9), test.texts)
        rows.append({"tokenizer": kind, "vocabulary_size": vocabulary.vocabulary_size(),
                     "build_seconds": round(seconds, 1), **rate})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| data set | model | tokenizer | seed | accuracy | train ex/s | predict texts/s | "
             "epochs (best) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        if "model" not in row:
            continue
        lines.append(f"| {row['dataset']} | {row['model']} | {row['tokenizer']} | "
                     f"{row.get('seed', '')} | {row['accuracy'] * 100:.1f}% | "
                     f"{row['train_examples_per_second']:,.0f} | "
                     f"{row['predict_texts_per_second']:,.0f} | "
                     f"{row['epochs_run']} ({row['best_epoch']}) |")
    oov = [row for row in rows if "oov_tokens" in row]
    if oov:
        lines += ["", "| vocabulary (IMDB train) | size | OOV tokens on IMDB test | "
                  "test reviews with an OOV token |", "|---|---:|---:|---:|"]
        for row in oov:
            lines.append(f"| {row['tokenizer']} | {row['vocabulary_size']:,} | "
                         f"{row['oov_tokens'] * 100:.2f}% | {row['texts_with_oov'] * 100:.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="sst2,imdb")
    parser.add_argument("--archs", default=",".join(MODELS), help="Rows of MODELS to run.")
    parser.add_argument("--tokenizers", default=",".join(TOKENIZERS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--vocab-size", type=int, default=20000)
    parser.add_argument("--sst2-max-length", type=int, default=64)
    parser.add_argument("--imdb-max-length", type=int, default=256)
    parser.add_argument("--sst2-limit", type=int, default=None,
                        help="Random subset of SST-2 train (default: all 67,349 phrases).")
    parser.add_argument("--imdb-train-limit", type=int, default=None,
                        help="Random subset of IMDB train (default: all 25,000).")
    parser.add_argument("--imdb-test-limit", type=int, default=None,
                        help="Random subset of IMDB test (default: all 25,000).")
    parser.add_argument("--oov", action="store_true",
                        help="Also measure word vs WordPiece OOV rates (full IMDB train/test).")
    parser.add_argument("--seed", type=int, default=1337,
                        help="Seed of the subsets, the validation split and the training.")
    parser.add_argument("--seeds", default=None,
                        help="Train each row once per seed in this comma-separated list "
                        "(weights and shuffling; the data split stays --seed's).")
    parser.add_argument("--adversarial", type=float, default=0.0, metavar="EPSILON",
                        help="adversarial training on the embeddings (the library's default: "
                        "0, off)")
    parser.add_argument("--optimizer", default="lazy_adam",
                        help="lazy_adam (the library's default) or adam (Keras' Adam)")
    parser.add_argument("--ema-momentum", type=float, default=0.995,
                        help="decay of the weights' moving average (the library's default); "
                        "0 for the raw weights")
    parser.add_argument("--output", default="benchmark_models.jsonl")
    parser.add_argument("--save-probabilities", metavar="DIR", default=None,
                        help="Also save each row's test probabilities in DIR "
                        "(<dataset>-<model>-<tokenizer>-<seed>.npz), for "
                        "scripts/ensemble_combinations.py.")
    parser.add_argument("--table-only", metavar="PATH", default=None,
                        help="Print the table of an existing results file and exit.")
    args = parser.parse_args()
    if args.table_only:
        rows = [json.loads(line) for line in Path(args.table_only).read_text().splitlines()
                if line.strip()]
        print(table(rows))
        return
    args.max_length = {"sst2": args.sst2_max_length, "imdb": args.imdb_max_length}

    import tensorflow as tf

    from sentiment.data import load_named_dataset
    from sentiment.config import TrainingConfig
    from sentiment.labels import split_validation

    output = Path(args.output)
    header = {"machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
                         f"{'GPU' if tf.config.list_physical_devices('GPU') else 'no GPU'}",
              "tensorflow": tf.__version__, "argv": os.sys.argv[1:]}
    with output.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"run": header}) + "\n")
    rows = []
    for dataset in args.datasets.split(","):
        named = load_named_dataset(dataset)
        if dataset == "sst2":
            splits = {"train": subset(named.train, args.sst2_limit, args.seed),
                      "test": named.test}
        else:
            splits = {"train": subset(named.train, args.imdb_train_limit, args.seed),
                      "test": subset(named.test, args.imdb_test_limit, args.seed)}
        # the validation split train_classifier would carve (its default share, the same seed)
        splits["train"], splits["validation"] = split_validation(
            splits["train"], TrainingConfig().validation_fraction, args.seed)
        vocabularies = {}
        # word n-grams need a word tokenizer: no fasttext-bigrams row for wordpiece
        seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else [args.seed]
        results = (run_one(dataset, splits, model, tokenizer, seed, args, vocabularies)
                   for tokenizer in args.tokenizers.split(",")
                   for model in args.archs.split(",")
                   for seed in seeds
                   if not (tokenizer == "wordpiece" and MODELS[model].get("ngrams", 1) > 1))
        for row in results:
            rows.append(row)
            print(json.dumps(row), flush=True)
            with output.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        if dataset == "imdb" and args.oov:  # full IMDB train and test, 30,000 words, min count 2
            for row in oov_rates(named.train, named.test, 30000):
                rows.append(row)
                print(json.dumps(row), flush=True)
                with output.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
