"""LazyAdam: dense gradients as Adam, sparse ones only on the rows they touch."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf
import keras

from sentiment.models.optimizers import LazyAdam, make_optimizer


def _apply(optimizer, gradients, start):
    variable = keras.Variable(start.copy())
    for gradient in gradients:
        optimizer.apply([gradient], [variable])
    return np.asarray(variable.numpy())


def test_dense_gradients_update_as_adam():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(5, 3)).astype("float32")
    gradients = [tf.constant(rng.normal(size=(5, 3)).astype("float32")) for _ in range(3)]
    np.testing.assert_allclose(_apply(LazyAdam(1e-2), gradients, start),
                               _apply(keras.optimizers.Adam(1e-2), gradients, start), atol=1e-7)


def test_sparse_gradient_sums_duplicates_and_leaves_other_rows_alone():
    start = np.arange(12, dtype="float32").reshape(6, 2)
    # rows 1 (twice) and 3; the duplicate rows' gradients add up
    sparse = tf.IndexedSlices(tf.constant([[1e-3, 2e-3], [3e-3, -1e-3], [1e-3, 1e-3]]),
                              tf.constant([1, 3, 1]), tf.constant([6, 2]))
    dense = tf.convert_to_tensor(sparse)  # summed duplicates, zeros elsewhere
    lazy = _apply(LazyAdam(1e-2), [sparse], start)
    # on a first step Adam leaves rows with a zero gradient unchanged too: the two agree
    np.testing.assert_allclose(lazy, _apply(keras.optimizers.Adam(1e-2), [dense], start),
                               atol=1e-7)
    assert (lazy[[0, 2, 4, 5]] == start[[0, 2, 4, 5]]).all()
    assert (lazy[[1, 3]] != start[[1, 3]]).all()
    # a second step on row 0 only: rows 1 and 3 keep their weights (dense Adam would move
    # them on momentum)
    only_row_0 = tf.IndexedSlices(tf.constant([[1e-3, 1e-3]]), tf.constant([0]),
                                  tf.constant([6, 2]))
    lazy_2 = _apply(LazyAdam(1e-2), [sparse, only_row_0], start)
    np.testing.assert_array_equal(lazy_2[[1, 3]], lazy[[1, 3]])
    adam_2 = _apply(keras.optimizers.Adam(1e-2), [dense, tf.convert_to_tensor(only_row_0)],
                    start)
    assert (adam_2[[1, 3]] != lazy[[1, 3]]).all()


def test_embedding_model_trains_and_names_are_checked():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), dtype="int32"),
                              keras.layers.Embedding(50, 8), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(make_optimizer("lazy_adam", 1e-2), "sparse_categorical_crossentropy")
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]] * 8, "int32")
    y = np.array([0, 1] * 8)
    before = model.get_weights()[0].copy()
    losses = [model.train_on_batch(x, y) for _ in range(20)]
    after = model.get_weights()[0]
    assert float(losses[-1]) < float(losses[0])
    np.testing.assert_array_equal(after[9:], before[9:])  # unused rows untouched
    assert isinstance(make_optimizer("adam", 1e-3), keras.optimizers.Adam)
    with pytest.raises(ValueError, match="optimizer must be adam or lazy_adam; received 'sgd'"):
        make_optimizer("sgd", 1e-3)
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)
