"""Adversarial training on the word embeddings: the fast gradient method, and virtual
adversarial training (:class:`VirtualAdversarialTraining`, at the end of this module).

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


# -- virtual adversarial training --------------------------------------------------------

#: The finite-difference step of the power iteration, as a share of epsilon: Miyato et al.'s
#: text settings (their adversarial_text code: 0.1 for a perturbation norm of 5.0).
XI_RATIO = 0.02


def _normalize(x, mask):
    """``x`` with padded steps zeroed and each example scaled to unit L2 norm over
    ``(time, embedding_dim)``; ``x``: ``(batch, time, embedding_dim)`` float32, ``mask``
    ``(batch, time)`` float32."""
    import tensorflow as tf

    x = x * mask[:, :, None]
    return x / (tf.norm(x, axis=(1, 2), keepdims=True) + 1e-12)


def _kl_divergence(p, q, multi_label: bool):
    """Mean over the batch of KL(p || q): over classes for softmax probabilities
    ``(batch, classes)``, summed over labels of Bernoulli KLs for multi-label sigmoids."""
    import tensorflow as tf

    p = tf.clip_by_value(tf.cast(p, tf.float32), 1e-7, 1 - 1e-7)
    q = tf.clip_by_value(tf.cast(q, tf.float32), 1e-7, 1 - 1e-7)
    kl = p * (tf.math.log(p) - tf.math.log(q))
    if multi_label:
        kl += (1 - p) * (tf.math.log(1 - p) - tf.math.log(1 - q))
    return tf.reduce_mean(tf.reduce_sum(kl, axis=-1))


def _zeros(twin, ids):
    import tensorflow as tf

    shape = tf.shape(ids)
    return tf.zeros([shape[0], shape[1], twin.inputs[1].shape[-1]], tf.float32)


def virtual_adversarial_perturbation(twin: keras.Model, ids, epsilon: float,
                                     multi_label: bool = False, seed=None):
    """Miyato et al.'s virtual adversarial perturbation of ``ids``' word embeddings.

    ``d``: Gaussian noise on the unpadded steps, scaled to norm ``xi = XI_RATIO * epsilon``;
    one power iteration: ``g = d KL(p(ids) || p(ids, d)) / d d``; ``r = epsilon * g /
    ||g||``, each example's L2 norm over ``(time, embedding_dim)``, zero on padding (the
    clean prediction ``p(ids)`` is held constant).

    Args:
        twin: a classifier built with ``perturbation=True``: ``[ids, perturbation]`` ->
            probabilities.
        ids: ``(batch, time) int32`` token ids, 0 = padding.
        epsilon: the perturbation's L2 norm per example (``> 0``).
        multi_label: probabilities are independent sigmoids.
        seed: for the noise (``tf.random.normal``).

    Returns:
        ``(perturbation, clean)``: ``(batch, time, embedding_dim) float32`` and the clean
        probabilities ``(batch, classes)``.
    """
    import tensorflow as tf

    ids = tf.convert_to_tensor(ids)
    mask = tf.cast(tf.not_equal(ids, 0), tf.float32)
    clean = tf.stop_gradient(twin([ids, _zeros(twin, ids)], training=False))
    d = XI_RATIO * epsilon * _normalize(
        tf.random.normal(tf.shape(_zeros(twin, ids)), seed=seed), mask)
    with tf.GradientTape() as tape:
        tape.watch(d)
        kl = _kl_divergence(clean, twin([ids, d], training=False), multi_label)
    g = tf.stop_gradient(tape.gradient(kl, d))
    return epsilon * _normalize(g, mask), clean


class VirtualAdversarialTraining(keras.Model):
    """Trains a classifier with virtual adversarial training (Miyato et al. 2017, "Adversarial
    Training Methods for Semi-Supervised Text Classification", ICLR; after their
    ``adversarial_losses.py`` in tensorflow/models ``research/adversarial_text``).

    Each step adds to the labelled batch's loss the virtual adversarial loss of an
    unlabelled batch: ``KL(p(u) || p(u + r))`` with ``r`` from
    :func:`virtual_adversarial_perturbation` (norm ``epsilon`` per text, on the word
    embeddings after their dropout, zero on padding; the clean prediction held constant;
    the three passes of this loss without dropout, so that it measures the perturbation
    alone). With ``adversarial >
    0`` it also adds the adversarial loss of the labelled batch, Miyato et al.'s form: the
    loss on embeddings moved by ``adversarial`` (per-text L2 norm) along the gradient of the
    loss with respect to them. Each step costs about four forward and three backward passes.

    Fit this wrapper on ``((ids, unlabelled_ids), labels)`` batches (validation batches: the
    usual ``(ids, labels)``); it trains ``twin``'s weights, which copy into the plain
    classifier of the same configuration (``classifier.set_weights(twin.get_weights())``).

    Args:
        twin: a classifier from :func:`~sentiment.models.classifier.build_classifier` with
            ``perturbation=True``.
        epsilon: the virtual adversarial perturbation's norm (``> 0``).
        adversarial: the adversarial perturbation's norm on labelled texts (0: none).
        multi_label: sigmoid outputs (Bernoulli KL per label).

    Raises:
        ValueError: ``epsilon <= 0``, a negative ``adversarial``, or a model without the
            perturbation input.
    """

    def __init__(self, twin: keras.Model, epsilon: float, adversarial: float = 0.0,
                 multi_label: bool = False, **kwargs):
        super().__init__(name=f"virtual_adversarial_{twin.name}", **kwargs)
        if not epsilon > 0 or adversarial < 0:
            raise ValueError(f"epsilon must be > 0 and adversarial >= 0; received {epsilon!r}, "
                             f"{adversarial!r}")
        if len(twin.inputs) != 2:
            raise ValueError(f"{twin.name} has no perturbation input (build it with "
                             "build_classifier(..., perturbation=True))")
        self.twin = twin
        self.epsilon = float(epsilon)
        self.adversarial = float(adversarial)
        self.multi_label = bool(multi_label)

    def call(self, inputs, training=False):
        ids = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        return self.twin([ids, _zeros(self.twin, ids)], training=training)

    def train_step(self, data):
        import tensorflow as tf

        (ids, unlabelled), y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        r_virtual, clean = virtual_adversarial_perturbation(
            self.twin, unlabelled, self.epsilon, self.multi_label)
        zeros = _zeros(self.twin, ids)
        r_adversarial = None
        if self.adversarial:
            with tf.GradientTape() as tape:
                tape.watch(zeros)
                loss = self.compute_loss(x=ids, y=y, y_pred=self.twin([ids, zeros],
                                                                      training=True),
                                         sample_weight=sample_weight, training=False)
            mask = tf.cast(tf.not_equal(ids, 0), tf.float32)
            r_adversarial = self.adversarial * _normalize(
                tf.stop_gradient(tape.gradient(loss, zeros)), mask)
        with tf.GradientTape() as tape:
            y_pred = self.twin([ids, zeros], training=True)
            loss = self.compute_loss(x=ids, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            # without dropout, as the clean prediction and the power iteration: the
            # divergence is then the perturbation's alone, 0 for r = 0
            total = loss + _kl_divergence(clean, self.twin([unlabelled, r_virtual],
                                                           training=False), self.multi_label)
            if r_adversarial is not None:
                total += self.compute_loss(x=ids, y=y, y_pred=self.twin([ids, r_adversarial],
                                                                        training=True),
                                           sample_weight=sample_weight, training=False)
            scaled = self.optimizer.scale_loss(total)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        for metric in self.metrics:  # the clean loss, weighted by batch size as Keras does
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=tf.shape(ids)[0])
        return self.compute_metrics(ids, y, y_pred, sample_weight=sample_weight)
