"""Export a model over sequences of vectors as a TensorFlow SavedModel.

Two endpoints, the same computation:

    serve(values (batch, time, features) float32, right-padded; lengths (batch,) int32)
      [serving_default; TensorFlow Serving's REST API takes dense tensors only]
    serve_ragged(sequences: tf.RaggedTensor (batch, None, features) float32, ragged_rank 1)
      -> standardize with the saved training statistics (padding set back to zero)
      -> the Keras model, the mask from the lengths
      -> classification: {"probabilities": (batch, classes) float32,
                          "label": (batch,) tf.string (the argmax)}
         regression:     {"value": (batch,) float32, in the targets' units, clipped to
                          the saved range}

Neither the ``sentiment`` package nor tensorflow-text is needed to load it.
"""

from __future__ import annotations

from pathlib import Path

#: The dense endpoint (also ``serving_default``) and the ragged one.
ENDPOINT, RAGGED_ENDPOINT = "serve", "serve_ragged"


def sequence_functions(predictor):
    """``(serve, serve_ragged)`` ``tf.function`` s of a
    :class:`~sentiment.sequences.predictor.SequencePredictor`, as the module docstring
    describes."""
    import tensorflow as tf

    config, model = predictor.config, predictor.model
    features = config.features
    mean = tf.constant(config.feature_mean, tf.float32)
    std = tf.constant(config.feature_std, tf.float32)
    labels = tf.constant(list(config.labels) or [""], tf.string)

    def outputs(values, lengths):
        mask = tf.sequence_mask(lengths, tf.shape(values)[1])[..., None]
        standardized = tf.where(mask, (values - mean) / std, 0.0)
        width = config.num_outputs
        result = tf.cond(
            tf.shape(values)[0] > 0,  # some layers reject an empty batch
            lambda: tf.cast(model({"values": standardized, "lengths": lengths},
                                  training=False), tf.float32),
            lambda: tf.zeros([0, width], tf.float32))
        if config.regression:
            value = result[:, 0] * config.target_std + config.target_mean
            if config.clip_range is not None:
                value = tf.clip_by_value(value, *config.clip_range)
            return {"value": value}
        return {"probabilities": result, "label": tf.gather(labels, tf.argmax(result, 1))}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, features], tf.float32, name="values"),
        tf.TensorSpec([None], tf.int32, name="lengths")])
    def serve(values, lengths):
        return outputs(values, lengths)

    @tf.function(input_signature=[
        tf.RaggedTensorSpec([None, None, features], tf.float32, ragged_rank=1)])
    def serve_ragged(sequences):
        return outputs(sequences.to_tensor(), tf.cast(sequences.row_lengths(), tf.int32))

    return serve, serve_ragged


def write_sequence_export(predictor, output_dir: Path) -> Path:
    """Write ``predictor``'s model as a SavedModel to ``output_dir`` (checked replaceable
    by the caller), with ``sentiment_export.json`` recording the files' sizes and SHA-256,
    the endpoints' inputs and outputs, and the configuration. Returns ``output_dir``."""
    import keras

    from ..export import write_export

    serve, serve_ragged = sequence_functions(predictor)
    archive = keras.export.ExportArchive()
    archive.track(predictor.model)
    archive.add_endpoint(ENDPOINT, serve)
    archive.add_endpoint(RAGGED_ENDPOINT, serve_ragged)
    config = predictor.config
    write_export(archive, output_dir, {
            "endpoint": ENDPOINT,
            "input": {"values": f"(batch, time, {config.features}) float32, raw (not "
                                "standardized) frames, right-padded (any padding value)",
                      "lengths": "(batch,) int32, the true number of frames"},
            "ragged_endpoint": RAGGED_ENDPOINT,
            "ragged_input": f"sequences: tf.RaggedTensor (batch, None, {config.features}) "
                            "float32, ragged_rank 1",
            "outputs": ({"value": "(batch,) float32"} if config.regression else
                        {"probabilities": "(batch, classes) float32",
                         "label": "(batch,) tf.string"}),
            "labels": list(config.labels), "sequence_model": config.to_dict()})
    return Path(output_dir)
