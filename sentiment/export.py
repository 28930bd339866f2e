"""Export a model directory as a TensorFlow SavedModel that classifies raw strings.

    serve(texts (batch,) tf.string)
      -> normalize, tokenize, vocabulary lookup (word table or WordPiece), truncate,
         at least one token, right-pad to the longest text      (batch, time) int32
      -> the Keras classifier                                    (batch, classes) float32
      -> temperature scaling (the saved temperature)
      -> {"probabilities": (batch, classes) float32, "label": (batch,) tf.string}
         (the argmax, or the saved two-class threshold's label), or for a multi-label model
         {"probabilities": (batch, labels) float32, "predicted": (batch, labels) bool,
          "thresholds": (batch, labels) float32, the saved thresholds on every row}

Everything runs inside the graph with the same TensorFlow / tensorflow-text code as
:class:`sentiment.Predictor`, so the probabilities match it (padding never changes them). The
SavedModel needs the tensorflow-text custom ops: ``import tensorflow_text`` before
``tf.saved_model.load``, or a TensorFlow Serving build that links them (see README.md,
"Export for serving").
The ``sentiment`` package itself is not needed to load or serve it.
"""

from __future__ import annotations

from pathlib import Path

from .artifacts import ArtifactKind, atomic_directory, check_replaceable, locks_output
from .config import write_json
from .errors import ModelError
from .fingerprints import FILES_KEY, fingerprint_files, verify_files

#: Name of the serving endpoint (also registered as ``serving_default``).
ENDPOINT = "serve"
#: Sidecar file with the class names and the model's configuration.
EXPORT_INFO_FILE = "sentiment_export.json"
#: What an export holds: only an empty directory or an earlier export is replaced.
EXPORT_ARTIFACT = ArtifactKind(
    "sentiment SavedModel export", required=("saved_model.pb", EXPORT_INFO_FILE),
    allowed=("saved_model.pb", EXPORT_INFO_FILE, "variables", "assets", "fingerprint.pb"))


def probability_function(predictor):
    """A graph-compatible function from ``(batch,) tf.string`` texts to ``predictor``'s
    probabilities ``(batch, classes) float32``, scaled by its temperature
    (``ClassifierConfig.temperature``) as :meth:`Predictor.predict_proba` scales them; for
    an :class:`~sentiment.predictor.EnsemblePredictor`, the weighted mean of its members'."""
    import tensorflow as tf

    members = getattr(predictor, "members", None)
    if members is not None:  # an ensemble: each member's own pipeline, then the mean
        parts = [(float(weight), probability_function(member))
                 for weight, member in zip(predictor.config.weights, members)]

        def mean(texts):
            return tf.add_n([weight * part(texts) for weight, part in parts])

        return mean
    encoder, model = predictor.encoder, predictor.model
    classes = 1 if predictor.task == "regression" else len(predictor.labels)
    temperature = float(getattr(predictor.config, "temperature", 1.0))
    multi_label = predictor.multi_label

    def probabilities_of(texts):
        ids = encoder.encode_padded(texts)  # (batch, time) int32, right-padded
        # some layers reject an empty batch: answer it with an empty (0, classes) result
        probabilities = tf.cond(
            tf.shape(ids)[0] > 0,
            lambda: tf.cast(model(ids, training=False), tf.float32),
            lambda: tf.zeros([0, classes], tf.float32))
        if temperature != 1.0 and multi_label:  # as sentiment.calibration applies it
            # in float64, as numpy does: 1 - 1e-12 is 1.0 in float32
            p = tf.clip_by_value(tf.cast(probabilities, tf.float64), 1e-12, 1 - 1e-12)
            probabilities = tf.cast(
                tf.sigmoid((tf.math.log(p) - tf.math.log1p(-p)) / temperature), tf.float32)
        elif temperature != 1.0:
            probabilities = tf.nn.softmax(
                tf.math.log(tf.maximum(probabilities, 1e-12)) / temperature, axis=-1)
        return probabilities

    return probabilities_of


def serving_function(predictor):
    """A ``tf.function`` over ``(None,) tf.string`` texts returning ``{"probabilities":
    (batch, classes) float32, "label": (batch,) tf.string}`` for ``predictor``'s model
    (:func:`probability_function`: temperature-scaled; an ensemble's weighted mean), the
    label chosen by its saved decision threshold (the argmax without one); for a multi-label
    model ``{"probabilities", "predicted": (batch, labels) bool, "thresholds": (batch,
    labels) float32}`` (the saved thresholds repeated on every row), ``predicted`` being
    ``probabilities >= thresholds`` (plus the top label of a row with none when the model's
    ``if_no_label`` is ``top``); for a regression model ``{"value": (batch,) float32}`` in
    the targets' units. Prediction-time options (``--threshold``,
    ``--abstain-below``) are not part of the export."""
    import tensorflow as tf

    from .decisions import DecisionRule

    probabilities_of = probability_function(predictor)
    if predictor.task == "regression":
        config = predictor.config

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
        def serve_values(texts):  # the standardized output in the targets' units
            value = probabilities_of(texts)[:, 0] * config.target_std + config.target_mean
            if config.clip_range is not None:
                value = tf.clip_by_value(value, *config.clip_range)
            return {"value": value}

        return serve_values
    labels = tf.constant(list(predictor.labels), dtype=tf.string)
    rule = DecisionRule.for_config(predictor.config)  # the saved rule only

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(texts):
        probabilities = probabilities_of(texts)
        if rule.multi_label:
            thresholds = tf.constant(rule.label_thresholds(), tf.float32)
            predicted = probabilities >= thresholds
            if rule.if_no_label == "top":
                top = tf.one_hot(tf.argmax(probabilities, axis=1), len(predictor.labels),
                                 on_value=True, off_value=False)
                none = ~tf.reduce_any(predicted, axis=1, keepdims=True)
                predicted = predicted | (top & none)
            # (batch, labels) like the other outputs: TensorFlow Serving's row format (and its
            # batching) needs every output to share the batch dimension
            return {"probabilities": probabilities, "predicted": predicted,
                    "thresholds": tf.tile(thresholds[None], [tf.shape(probabilities)[0], 1])}
        if rule.threshold is not None:
            chosen = tf.cast(probabilities[:, 1] >= rule.threshold, tf.int64)
        else:
            chosen = tf.argmax(probabilities, axis=1)
        return {"probabilities": probabilities, "label": tf.gather(labels, chosen)}

    return serve


def _track(archive, predictor) -> None:
    """Track ``predictor``'s model and vocabulary tables (each member's, for an ensemble)."""
    for member in getattr(predictor, "members", None) or [predictor]:
        archive.track(member.model)
        vocabulary = member.encoder.vocabulary
        archive.track(vocabulary.wordpiece if member.config.tokenizer == "wordpiece"
                      else vocabulary.table)


@locks_output("output_dir")  # the whole run holds .NAME.lock beside the output
def export_saved_model(model_dir: str | Path, output_dir: str | Path) -> Path:
    """Write the model in ``model_dir`` as a raw-string SavedModel to ``output_dir``.

    Args:
        model_dir: a model directory written by ``sentiment train`` or ``sentiment
            ensemble`` (a model over sequences is exported by
            :func:`sentiment.sequences.export.write_sequence_export`).
        output_dir: the SavedModel directory to write (replaced atomically when complete;
            an existing one must be empty or an earlier export). For TensorFlow Serving, use
            a numbered version directory: ``models/sentiment/1``.

    Returns:
        ``output_dir``, ``~`` expanded and made absolute.

    ``sentiment_export.json`` records the size and SHA-256 of every file written, which
    :func:`load_export` checks.

    Raises:
        ModelError: when ``model_dir`` is missing, incomplete or corrupted.
        ConfigError: ``output_dir`` is not a directory an export may replace (the model
            directory itself, a TensorFlow Serving base directory holding versions, an export
            with files added: :func:`sentiment.artifacts.check_replaceable`); checked before
            anything is done.
    """
    output_dir = check_replaceable(output_dir, EXPORT_ARTIFACT)
    import keras

    from .predictor import Predictor

    predictor = Predictor.load(model_dir)
    if predictor.inputs == "sequences":  # a model over sequences of vectors
        from .sequences.export import write_sequence_export

        return write_sequence_export(predictor, output_dir)
    archive = keras.export.ExportArchive()
    _track(archive, predictor)
    archive.add_endpoint(ENDPOINT, serving_function(predictor))
    write_export(archive, output_dir, {
            "endpoint": ENDPOINT, "input": "texts: (batch,) tf.string, raw UTF-8 texts",
            "outputs": ({"value": "(batch,) float32"} if predictor.task == "regression" else
                        {"probabilities": "(batch, labels) float32",
                         "predicted": "(batch, labels) bool",
                         "thresholds": "(batch, labels) float32"} if predictor.multi_label else
                        {"probabilities": "(batch, classes) float32",
                         "label": "(batch,) tf.string"}),
            "labels": list(predictor.labels), **_config_entries(predictor),
            "requires": "import tensorflow_text (custom ops) before tf.saved_model.load"})
    return output_dir


def write_export(archive, output_dir: str | Path, info: dict) -> None:
    """Write ``archive`` (a ``keras.export.ExportArchive``) to ``output_dir`` atomically,
    with :data:`EXPORT_INFO_FILE` holding ``info`` and the size and SHA-256 of every file
    written."""
    with atomic_directory(output_dir, EXPORT_ARTIFACT) as tmp:
        archive.write_out(str(tmp), verbose=False)
        written = sorted(path.relative_to(tmp).as_posix() for path in tmp.rglob("*")
                         if path.is_file())
        write_json(tmp / EXPORT_INFO_FILE, {FILES_KEY: fingerprint_files(tmp, written), **info})


def _config_entries(predictor) -> dict:
    """``sentiment_export.json``'s configuration: ``classifier`` (the decision rule's fields
    for an ensemble, which readers such as the Beam handler take as a classifier's), plus
    ``ensemble`` and each member's classifier for an ensemble."""
    members = getattr(predictor, "members", None)
    if members is None:
        return {"classifier": predictor.config.to_dict()}
    config = predictor.config
    return {"classifier": {key: value for key, value in config.to_dict().items()
                           if key in ("labels", "label_values", "multi_label", "threshold",
                                      "thresholds", "if_no_label", "max_length")},
            "ensemble": config.to_dict(),
            "members": [member.config.to_dict() for member in members]}


def load_export(export_dir: str | Path):
    """Load a SavedModel written by :func:`export_saved_model`, after checking its files.

    Imports ``tensorflow_text`` first (its custom ops must be registered before loading).

    Returns:
        The loaded object; ``loaded.serve(texts)`` maps ``(batch,) tf.string`` to
        ``{"probabilities": (batch, classes) float32, "label": (batch,) tf.string}``.

    Raises:
        ModelError: ``export_dir`` is not an export (no ``sentiment_export.json`` or
            ``saved_model.pb``), a file differs in size or SHA-256 from the one recorded when
            it was written, or TensorFlow cannot load it.
    """
    import json

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers the ops the serving graph uses

    export_dir = Path(export_dir).expanduser()
    info_path = export_dir / EXPORT_INFO_FILE
    if not (export_dir / "saved_model.pb").is_file() or not info_path.is_file():
        raise ModelError(f"{export_dir} is not a sentiment export (it lacks saved_model.pb or "
                         f"{EXPORT_INFO_FILE}); write one with `sentiment export`")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{info_path} is corrupted ({error}); export the model again") from None
    verify_files(export_dir, info.get(FILES_KEY), EXPORT_INFO_FILE)
    try:
        return tf.saved_model.load(str(export_dir))
    except Exception as error:  # noqa: BLE001  TensorFlow raises many types here
        raise ModelError(f"{export_dir} cannot be loaded as a SavedModel "
                         f"({type(error).__name__}: {str(error)[:200]}); export it again") \
            from None
