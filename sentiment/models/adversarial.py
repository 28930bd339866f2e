"""Adversarial training on the word embeddings (the fast gradient method).

Miyato et al. 2017 ("Adversarial Training Methods for Semi-Supervised Text Classification",
ICLR) regularise a text classifier by also training it on inputs whose word embeddings are
pushed a small step ``epsilon`` in the direction that most increases the loss (Goodfellow et
al. 2015, "Explaining and Harnessing Adversarial Examples", ICLR: the fast gradient method).
Here the step is taken on the rows of the embedding matrix that a batch uses, as the common
"FGM" recipe does, so that it needs no change to the model:

    g = d loss(ids, y) / d E[rows in the batch]          (rows, embedding_dim)
    r = epsilon * g / ||g||_2                             (one L2 norm over the batch)
    loss_total = loss(ids, y; E) + loss(ids, y; E + r)    r held constant
    weights -= optimizer step on d loss_total / d weights

Each step costs two forward and two backward passes. Inference is unchanged: the perturbation
exists only inside a training step, and the saved model is the plain classifier.

Why our own: Keras has no adversarial training, and the usual implementations are PyTorch
snippets around the optimizer step; this is the same rule as a Keras ``train_step``.
"""

from __future__ import annotations

import keras


class AdversarialTraining(keras.Model):
    """Trains ``classifier`` with the fast gradient method on its embedding matrix.

    Fit this wrapper (callbacks, early stopping and weight averaging see the classifier's own
    weights, which it shares) and save ``classifier``. Calling the wrapper calls the
    classifier: ``(batch, time) int32`` ids -> ``(batch, classes) float32`` probabilities.

    Args:
        classifier: a model from :func:`~sentiment.models.classifier.build_classifier` (not an
            ensemble), with a layer named ``embedding``.
        epsilon: L2 norm of the perturbation of the batch's embedding rows (``> 0``).

    Raises:
        ValueError: when ``epsilon <= 0`` or ``classifier`` has no ``embedding`` layer.

    Only the TensorFlow backend is supported (the training step uses ``tf.GradientTape``).
    """

    def __init__(self, classifier: keras.Model, epsilon: float, **kwargs):
        super().__init__(name=f"adversarial_{classifier.name}", **kwargs)
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0; received {epsilon!r}")
        try:
            self.embeddings = classifier.get_layer("embedding").embeddings
        except ValueError:
            raise ValueError(f"{classifier.name} has no layer named 'embedding'") from None
        self.classifier = classifier
        self.epsilon = float(epsilon)

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    def _loss_and_gradients(self, x, y, sample_weight):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            scaled = self.optimizer.scale_loss(loss)  # mixed precision: loss scaling
        return y_pred, loss, tape.gradient(scaled, self.trainable_variables)

    def train_step(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        index = next(i for i, v in enumerate(variables) if v is self.embeddings)
        y_pred, loss, gradients = self._loss_and_gradients(x, y, sample_weight)

        # the fast gradient step on the rows the batch uses (duplicate rows summed first)
        g = gradients[index]
        if isinstance(g, tf.IndexedSlices):
            rows, position = tf.unique(g.indices)
            values = tf.math.unsorted_segment_sum(g.values, position, tf.shape(rows)[0])
        else:  # a dense gradient: every row
            rows, values = tf.range(tf.shape(g)[0]), g
        values = tf.cast(values, self.embeddings.dtype)
        step = self.epsilon * values / (tf.norm(values) + 1e-12)
        perturbation = tf.IndexedSlices(tf.stop_gradient(step), rows)
        table = self.embeddings.value  # the tf.Variable
        original = tf.gather(table, rows)
        table.scatter_add(perturbation)
        _, _, adversarial = self._loss_and_gradients(x, y, sample_weight)
        # put the rows back exactly (subtracting r again could leave float rounding behind)
        table.scatter_update(tf.IndexedSlices(original, rows))

        self.optimizer.apply([_add(a, b) for a, b in zip(gradients, adversarial)], variables)
        for metric in self.metrics:  # the clean loss, weighted by batch size as Keras does
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _add(a, b):
    """The sum of two gradients of one variable; two sparse embedding gradients stay sparse
    (their rows concatenated: the optimizers sum duplicate rows)."""
    import tensorflow as tf

    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
        return tf.IndexedSlices(tf.concat([a.values, b.values], 0),
                                tf.concat([a.indices, b.indices], 0), a.dense_shape)
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
