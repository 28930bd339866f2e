"""The model zoo: Conv1D (Kim 2014), CNN-RNN and attention pooling train, keep padding
invariance, and save/load; their configuration is validated."""

import numpy as np
import pytest
from click.testing import CliRunner

from sentiment.config import ClassifierConfig
from sentiment.errors import ConfigError

VOCABULARY_SIZE = 50

ZOO = [
    ("cnn", "max", 1),
    ("cnn-lstm", "max", 1),
    ("cnn-gru", "mean", 2),
    ("cnn-gru", "last", 1),
    ("cnn-lstm", "attention", 1),
    ("lstm", "attention", 1),
    ("bigru", "attention", 1),
    ("fasttext", "mean", 1),
    ("fasttext", "max", 1),
]


def padded(rows):
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def graph_forward(model):
    """The model as one traced graph over any ``(batch, time)`` (eager recurrent layers step
    through long sequences slowly)."""
    import tensorflow as tf

    return tf.function(lambda ids: model(ids, training=False),
                       input_signature=[tf.TensorSpec((None, None), tf.int32)])


def small_config(arch, pooling, layers=1, **changes):
    return ClassifierConfig(arch=arch, pooling=pooling, layers=layers, embedding_dim=8,
                            units=6, filters=5, kernel_sizes=(2, 3, 5), pool_size=3,
                            labels=("a", "b", "c"), **changes)


@pytest.mark.parametrize("arch,pooling,layers", ZOO)
def test_padding_never_changes_a_prediction(arch, pooling, layers):
    from sentiment.models.classifier import build_classifier

    forward = graph_forward(build_classifier(small_config(arch, pooling, layers),
                                             VOCABULARY_SIZE))
    rng = np.random.default_rng(0)
    long = rng.integers(2, VOCABULARY_SIZE, size=600).astype(np.int32)
    # lengths below, at and above the kernel widths and pool size, incl. a partial window
    shorts = [rng.integers(2, VOCABULARY_SIZE, size=n).astype(np.int32) for n in (1, 2, 4, 7)]
    beside_long = forward(padded(shorts + [long])).numpy()
    for row, short in enumerate(shorts):
        alone = forward(padded([short])).numpy()[0]
        assert alone.shape == (3,)
        np.testing.assert_allclose(alone, beside_long[row], atol=1e-5)
        np.testing.assert_allclose(alone.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("arch,pooling,layers", ZOO)
def test_each_architecture_trains_a_step_and_round_trips_through_keras_saving(
        arch, pooling, layers, tmp_path):
    import keras

    from sentiment.models.classifier import build_classifier

    model = build_classifier(small_config(arch, pooling, layers), VOCABULARY_SIZE)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    rng = np.random.default_rng(1)
    ids = padded([rng.integers(2, VOCABULARY_SIZE, size=n) for n in (3, 9, 17, 30)])
    labels = np.array([0, 1, 2, 1], dtype=np.int32)
    before = [w.copy() for w in model.get_weights()]
    model.fit(ids, labels, epochs=1, batch_size=4, verbose=0)
    changed = [not np.allclose(a, b) for a, b in zip(before, model.get_weights())]
    assert all(changed), "every weight (embedding, conv, recurrent, dense) receives a gradient"
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(loaded(ids, training=False).numpy(),
                               model(ids, training=False).numpy(), atol=1e-6)


def test_pool_mask_keeps_windows_holding_a_real_token():
    from sentiment.models.classifier import PoolMask

    mask = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]], dtype=bool)
    out = np.asarray(PoolMask(3)(mask))
    np.testing.assert_array_equal(out, [[True, True, False], [True, False, False]])


def test_attention_weights_are_zero_on_padding_and_sum_to_one():
    from sentiment.models.classifier import AttentionPooling

    rng = np.random.default_rng(2)
    values = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    pooled, weights = AttentionPooling(3)(values, mask=mask)
    weights = np.asarray(weights)
    np.testing.assert_array_equal(weights[0, 3:], 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(pooled), np.einsum("bt,btf->bf", weights, values),
                               rtol=1e-5, atol=1e-6)


def test_cnn_layers_and_widths_follow_the_configuration():
    from sentiment.models.classifier import build_classifier

    model = build_classifier(small_config("cnn", "max"), VOCABULARY_SIZE)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv1D"]
    assert sorted(layer.kernel_size[0] for layer in convs) == [2, 3, 5]
    assert all(layer.filters == 5 for layer in convs)


def test_configuration_errors():
    with pytest.raises(ConfigError, match="pooling must be max"):
        ClassifierConfig(arch="cnn", pooling="mean")
    with pytest.raises(ConfigError, match="kernel_sizes"):
        ClassifierConfig(arch="cnn", kernel_sizes=())
    with pytest.raises(ConfigError, match="kernel size"):
        ClassifierConfig(arch="cnn", kernel_sizes=(3, 0))
    with pytest.raises(ConfigError, match="arch"):
        ClassifierConfig(arch="transformer")
    restored = ClassifierConfig.from_dict({"arch": "cnn-gru", "kernel_sizes": [3, 5]})
    assert restored.kernel_sizes == (3, 5)
    with pytest.raises(ConfigError, match="pooling must be mean or max"):
        ClassifierConfig(arch="fasttext", pooling="attention")
    with pytest.raises(ConfigError, match="ngrams=2 needs a word tokenizer"):
        ClassifierConfig(ngrams=2, tokenizer="wordpiece")
    with pytest.raises(ConfigError, match="ngrams must be an integer >= 1"):
        ClassifierConfig(ngrams=0)
    # the pooling default follows the architecture, and is saved resolved
    assert ClassifierConfig(arch="fasttext").pooling == "mean"
    assert ClassifierConfig().pooling == "max"
    assert ClassifierConfig.from_dict(ClassifierConfig(arch="fasttext").to_dict()).pooling == "mean"


def test_cli_rejects_bad_kernel_sizes_before_loading_anything():
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["train", "--arch", "cnn", "--kernel-sizes", "3,x"])
    assert result.exit_code == 2
    assert "--kernel-sizes" in result.output and "3,x" in result.output
