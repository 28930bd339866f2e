#!/usr/bin/env python
"""GPU check of the classifier models: padding invariance under mixed precision, and
training step throughput, on whatever Keras backend and device are present.

For each architecture (``gru``, ``lstm``, ``bigru``, ``cnn``, ``cnn-gru``, and ``gru`` with
attention pooling), with the dtype policy ``mixed_float16`` on a GPU (``float32`` on a CPU):

* padding invariance: the probabilities of short texts (1, 5 and 37 tokens) predicted alone
  against the same texts batched beside a 600-token text (right padding up to 600 steps);
  prints the largest absolute difference;
* training throughput: examples per second of ``train_on_batch`` on batches of 64 random
  texts, for the default model on a bucket of 270 tokens (IMDB's mean padded batch length at
  max length 600) and the plain recipe's LSTM(64) on 600 padded tokens, in ``float32`` and in
  the mixed policy.

It needs only Keras and this package's model code, so it runs with any Keras backend
(``KERAS_BACKEND=tensorflow`` exercises TensorFlow's cuDNN kernels with right-padded masks;
``jax`` and ``torch`` run masked recurrent layers as a generic loop).

    python scripts/check_gpu_classifier.py --json-out gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def gpu_visible() -> bool:
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def padding_invariance(config, vocabulary_size: int, rng) -> float:
    """Largest absolute difference of probabilities between texts alone and batched beside a
    600-token text."""
    from sentiment.models.classifier import build_classifier

    model = build_classifier(config, vocabulary_size)
    worst = 0.0
    long_row = rng.integers(2, vocabulary_size, size=600)
    for length in (1, 5, 37):
        short = rng.integers(2, vocabulary_size, size=length)
        alone = np.asarray(model.predict(short[None, :].astype("int32"), verbose=0))
        batch = np.zeros((2, 600), dtype="int32")
        batch[0, :length], batch[1] = short, long_row
        beside = np.asarray(model.predict(batch, verbose=0))[:1]
        worst = max(worst, float(np.abs(alone - beside).max()))
    return worst


def examples_per_second(model, length: int, rng, batch: int = 64, steps: int = 30) -> float:
    ids = rng.integers(2, 20_000, size=(batch, length)).astype("int32")
    labels = rng.integers(0, 2, size=(batch,)).astype("int32")
    for _ in range(3):  # compile and warm up
        model.train_on_batch(ids, labels)
    started = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(ids, labels)
    float(np.asarray(loss if not isinstance(loss, list) else loss[0]))  # wait for the device
    return batch * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args()

    import keras

    from sentiment.config import ClassifierConfig
    from sentiment.models.classifier import build_classifier

    gpu = gpu_visible()
    mixed = "mixed_float16" if gpu else "float32"
    result = {"backend": keras.backend.backend(), "keras": keras.__version__, "gpu": gpu,
              "policy": mixed, "padding_max_abs_diff": {}, "train_examples_per_second": {}}
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, GPU {gpu}, "
          f"mixed policy {mixed}", flush=True)
    rng = np.random.default_rng(0)
    base = ClassifierConfig().replace(labels=("negative", "positive"),
                                      label_values=("0", "1"))
    variants = {"gru": {}, "lstm": {"arch": "lstm"}, "bigru": {"arch": "bigru"},
                "cnn": {"arch": "cnn"}, "cnn-gru": {"arch": "cnn-gru"},
                "gru+attention": {"pooling": "attention"}}
    keras.mixed_precision.set_global_policy(mixed)
    for name, options in variants.items():
        keras.utils.set_random_seed(0)
        diff = padding_invariance(base.replace(**options), 20_000, rng)
        result["padding_max_abs_diff"][name] = diff
        print(f"padding invariance {name:14s} max |alone - batched| = {diff:.2e}", flush=True)

    for policy in ("float32", mixed) if gpu else ("float32",):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        default = build_classifier(base, 20_000)
        default.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        plain = keras.Sequential([keras.Input(shape=(None,), dtype="int32"),
                                  keras.layers.Embedding(20_000, 128, mask_zero=True),
                                  keras.layers.LSTM(64),
                                  keras.layers.Dense(2, activation="softmax", dtype="float32")])
        plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        ours = examples_per_second(default, 270, rng)
        theirs = examples_per_second(plain, 600, rng)
        result["train_examples_per_second"][policy] = {
            "default_270_tokens": round(ours, 1), "plain_lstm_600_tokens": round(theirs, 1)}
        print(f"{policy}: default model (270-token bucket) {ours:,.0f} ex/s, plain LSTM(64) "
              f"at 600 tokens {theirs:,.0f} ex/s, ratio {ours / theirs:.2f}", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
