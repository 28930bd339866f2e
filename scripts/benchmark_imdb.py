"""IMDB benchmark: the default `sentiment train` model against the plain Keras recipe.

Trains the default classifier (the settings `sentiment train` uses with no options) on IMDB
train (25,000 reviews, 10% carved out for validation), evaluates on IMDB test (25,000), and
measures end-to-end prediction throughput (raw text -> label, the 25,000 test reviews through
`Predictor.predict_proba`). In the same run it trains the plain recipe for comparison: Keras
`TextVectorization` (same vocabulary size and max length, lower-case + punctuation stripping),
every text padded to the max length, no bucketing, Embedding -> one LSTM(64) -> Dense(1),
2 epochs, same batch size.

Training throughput is reported three ways: over each whole fit and in each recipe's fastest
epoch (validation excluded), and paired: after both fits, the two trained models take turns
training on their own real batches (the default's bucketed batches of IMDB train, the plain
recipe's padded ones), 40 steps each per round for 7 rounds, and the median of the per-round
ratios is reported. On a shared machine whose speed drifts by up to 2x over minutes, the
paired ratio compares the recipes under the same conditions; the whole-fit ratio does not.

Last, the default model is trained again with --extra-seeds (default 1 and 2; the seed sets
the validation split, the initial weights and the shuffling) and the test accuracy of each
seed and their mean are printed: a single run's accuracy varies by about a point with the seed.

    SENTIMENT_DATA_DIR=../shared/data python scripts/benchmark_imdb.py
    python scripts/benchmark_imdb.py --limit 2000 --epochs 1   # a quick smoke run

Prints a table and writes JSON with --json PATH.
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

import numpy as np  # noqa: E402


def epoch_timer():
    """A Keras callback recording each epoch's training time in seconds (``.seconds``), from
    the epoch's start to the start of its validation pass, so validation is not counted."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self._started = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_test_begin(self, logs=None):
            if self._started is not None:  # validation inside fit, not a later evaluate
                self.seconds.append(time.perf_counter() - self._started)
                self._started = None

    return EpochTimer()


def throughput(examples: int, timer) -> dict:
    """Training examples per second: over the whole fit (``mean``) and in the fastest epoch
    (``best``, the least disturbed by other jobs on a shared machine, as ``timeit`` takes the
    minimum)."""
    return {"epoch_seconds": [round(x, 1) for x in timer.seconds],
            "train_examples_per_second_mean": round(
                examples * len(timer.seconds) / sum(timer.seconds), 1),
            "train_examples_per_second_best": round(examples / min(timer.seconds), 1)}


PAIRED_STEPS = 40


def default_slices(predictor, train) -> callable:
    """Timed slices of the trained default model on its own bucketed IMDB train batches, each
    step followed by the weight averaging's update, as in training."""
    from sentiment.config import TrainingConfig
    from sentiment.models.optimizers import make_optimizer
    from sentiment.models.weight_averaging import WeightAveraging
    from sentiment.labels import label_indices, split_validation
    from sentiment.text.pipeline import encode_texts
    from sentiment.text.batching import training_dataset

    training = TrainingConfig()
    train, _ = split_validation(train, training.validation_fraction, training.seed)
    batches = training_dataset(encode_texts(predictor.encoder, train.texts),
                               label_indices(train, predictor.config), training.batch_size,
                               seed=training.seed, max_length=predictor.config.max_length)
    model = predictor.model
    model.compile(optimizer=make_optimizer(training.optimizer, training.learning_rate),
                  loss="sparse_categorical_crossentropy")  # what training used
    if not training.ema_momentum:
        return timed_slices(model, batches, PAIRED_STEPS)
    averaging = WeightAveraging(training.ema_momentum)
    averaging.set_model(model)
    averaging.on_train_begin()
    return timed_slices(model, batches, PAIRED_STEPS, after_step=averaging.on_train_batch_end)


def timed_slices(model, batches, steps: int, after_step=None):
    """A function that trains ``model`` for ``steps`` batches of the (repeated) dataset
    ``batches``, calling ``after_step(step)`` after each when given, and returns the seconds
    taken."""
    iterator = iter(batches.repeat())

    def run() -> float:
        started = time.perf_counter()
        for step in range(steps):
            model.train_on_batch(*next(iterator))
            if after_step is not None:
                after_step(step)
        return time.perf_counter() - started

    run()  # trace and warm up
    return run


def paired_ratio(default_slice, plain_slice, rounds: int = 7) -> dict:
    """Alternate timed slices of equal examples; the per-round speed ratios and their median."""
    ratios = []
    for _ in range(rounds):
        ours, theirs = default_slice(), plain_slice()
        ratios.append(theirs / ours)  # same examples: speed ratio = time ratio inverted
    return {"ratios": [round(r, 2) for r in ratios], "median": float(np.median(ratios))}


def train_default(splits, epochs: int | None, output: Path) -> dict:
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.predictor import Predictor
    from sentiment.training import train_classifier

    training = TrainingConfig() if epochs is None else TrainingConfig(epochs=epochs)
    config = ClassifierConfig()
    timer = epoch_timer()
    started = time.perf_counter()
    result = train_classifier(splits.train, config, training, output,
                              label_names=splits.label_names, callbacks=[timer], verbose=2)
    wall = time.perf_counter() - started
    predictor = Predictor.load(output)
    test = splits.test
    started = time.perf_counter()
    probabilities = predictor.predict_proba(test.texts, batch_size=256)
    predict_seconds = time.perf_counter() - started
    y_true = np.array([int(y) for y in test.labels])
    return predictor, {
        "recipe": f"sentiment default ({config.arch}, {config.units} units, {config.pooling} "
                  f"pooling, max_length {config.max_length}, bucketing)",
        "test_accuracy": float((probabilities.argmax(1) == y_true).mean()),
        "train_examples_per_second": result.metrics["training"]["examples_per_second"],
        **throughput(result.metrics["training"]["examples"], timer),
        "epochs_run": result.metrics["training"]["epochs_run"],
        "fit_seconds": result.metrics["training"]["seconds"],
        "wall_seconds": round(wall, 1),
        "predict_texts_per_second": round(len(test) / predict_seconds, 1),
        "max_length": config.max_length, "batch_size": training.batch_size,
        "vocab_size": config.vocab_size,
    }


def seed_accuracies(splits, seeds: list[int], epochs: int | None) -> dict:
    """IMDB test accuracy of the default model trained again with each of ``seeds`` (the seed
    sets the validation split, the initial weights and the shuffling): how much of a single
    run's accuracy is luck. Run after all timed work."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.training import train_classifier

    accuracies = {}
    for seed in seeds:
        training = TrainingConfig(seed=seed, **({} if epochs is None else {"epochs": epochs}))
        with tempfile.TemporaryDirectory() as tmp:
            result = train_classifier(splits.train, ClassifierConfig(), training,
                                      Path(tmp) / "model", test=splits.test,
                                      label_names=splits.label_names, verbose=0)
        accuracies[seed] = result.metrics["test"]["accuracy"]
        print(f"seed {seed}: test accuracy {accuracies[seed]:.4f}", flush=True)
    return accuracies


def train_plain(splits, max_length: int, vocab_size: int, batch_size: int, epochs: int) -> dict:
    import keras
    import tensorflow as tf

    from sentiment.labels import split_validation

    train, validation = split_validation(splits.train, 0.1, seed=1337)
    keras.utils.set_random_seed(1337)
    vectorize = keras.layers.TextVectorization(max_tokens=vocab_size,
                                               output_sequence_length=max_length)
    vectorize.adapt(tf.constant(train.texts))
    x_train = vectorize(tf.constant(train.texts))  # (n, max_length) int64, all padded
    x_validation = vectorize(tf.constant(validation.texts))
    y_train = np.array([int(y) for y in train.labels], dtype=np.float32)
    y_validation = np.array([int(y) for y in validation.labels], dtype=np.float32)
    model = keras.Sequential([
        keras.Input(shape=(max_length,), dtype="int64"),
        keras.layers.Embedding(vocab_size, 128, mask_zero=True),
        keras.layers.LSTM(64),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    timer = epoch_timer()
    started = time.perf_counter()
    model.fit(x_train, y_train, validation_data=(x_validation, y_validation),
              batch_size=batch_size, epochs=epochs, callbacks=[timer], verbose=2)
    fit_seconds = time.perf_counter() - started
    test = splits.test
    started = time.perf_counter()
    scores = model.predict(vectorize(tf.constant(test.texts)), batch_size=256, verbose=0)[:, 0]
    predict_seconds = time.perf_counter() - started
    y_true = np.array([int(y) for y in test.labels])
    slice_ = timed_slices(model, tf.data.Dataset.from_tensor_slices((x_train, y_train))
                          .shuffle(len(y_train), seed=0).batch(batch_size), PAIRED_STEPS)
    return slice_, {
        "recipe": f"plain (TextVectorization, padded to {max_length}, LSTM(64), {epochs} epochs)",
        "test_accuracy": float(((scores > 0.5).astype(int) == y_true).mean()),
        "train_examples_per_second": round(len(train) * epochs / fit_seconds, 1),
        **throughput(len(train), timer),
        "epochs_run": epochs, "fit_seconds": round(fit_seconds, 2),
        "wall_seconds": round(fit_seconds, 1),
        "predict_texts_per_second": round(len(test) / predict_seconds, 1),
        "max_length": max_length, "batch_size": batch_size, "vocab_size": vocab_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the default model (default: its own default)")
    parser.add_argument("--plain-epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None,
                        help="use only N training and N test reviews (smoke runs)")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--output", type=Path, default=None,
                        help="keep the trained model here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--extra-seeds", default="1,2",
                        help="comma-separated seeds to train the default model again with, "
                        "for its test accuracy only ('' for none)")
    args = parser.parse_args()

    import tensorflow as tf

    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import DatasetSplits, load_named_dataset

    splits = load_named_dataset("imdb")
    if args.limit:
        rng = np.random.default_rng(0)
        splits = DatasetSplits(
            splits.train.select(rng.permutation(len(splits.train))[: args.limit]), None,
            splits.test.select(rng.permutation(len(splits.test))[: args.limit]),
            splits.label_names)
    print(f"IMDB: {len(splits.train)} train, {len(splits.test)} test; "
          f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"GPU: {bool(tf.config.list_physical_devices('GPU'))}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        predictor, default = train_default(splits, args.epochs, args.output or Path(tmp) / "model")
        results.append(default)
    if not args.skip_plain:
        plain_slice, plain = train_plain(splits, ClassifierConfig().max_length,
                                         ClassifierConfig().vocab_size,
                                         TrainingConfig().batch_size, args.plain_epochs)
        results.append(plain)
        paired = paired_ratio(default_slices(predictor, splits.train), plain_slice)
        default["paired_ratio_to_plain"] = paired
    extra_seeds = [int(seed) for seed in args.extra_seeds.split(",") if seed.strip()]
    if extra_seeds:
        accuracies = {TrainingConfig().seed: default["test_accuracy"],
                      **seed_accuracies(splits, extra_seeds, args.epochs)}
        default["test_accuracy_by_seed"] = accuracies
    header = (f"{'recipe':<80} {'test acc':>8} {'train ex/s':>10} {'fastest epoch ex/s':>18} "
              f"{'epochs':>6} {'fit s':>7} {'predict texts/s':>15}")
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        print(f"{r['recipe']:<80} {r['test_accuracy']:>8.4f} "
              f"{r['train_examples_per_second']:>10.1f} "
              f"{r['train_examples_per_second_best']:>18.1f} {r['epochs_run']:>6} "
              f"{r['fit_seconds']:>7.1f} {r['predict_texts_per_second']:>15.1f}")
        print(f"    training seconds per epoch (validation excluded): {r['epoch_seconds']}")
    if len(results) == 2:
        default, plain = results
        mean, best = ("train_examples_per_second_mean", "train_examples_per_second_best")
        print(f"\ntraining throughput ratio (default / plain): whole fit "
              f"{default[mean] / plain[mean]:.2f}x (validation excluded), fastest epoch "
              f"{default[best] / plain[best]:.2f}x, paired slices "
              f"{default['paired_ratio_to_plain']['median']:.2f}x (median of "
              f"{default['paired_ratio_to_plain']['ratios']}, {PAIRED_STEPS} steps each)")
    if "test_accuracy_by_seed" in default:
        accuracies = default["test_accuracy_by_seed"]
        print(f"default model, test accuracy by seed: "
              f"{', '.join(f'{seed}: {a:.4f}' for seed, a in accuracies.items())}; mean "
              f"{np.mean(list(accuracies.values())):.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
