"""``sentiment export``: a trained model as a raw-string TensorFlow SavedModel."""

from __future__ import annotations

import json

from pathlib import Path

import click

from .options import model_option, quiet_tensorflow, translate_errors


@click.command()
@model_option
@click.option("--output", "output_dir", type=click.Path(file_okay=False), required=True,
              help="SavedModel directory to write (for TensorFlow Serving: "
              "MODEL_BASE_PATH/1); an existing one is replaced only if it is empty or an "
              "earlier export holding nothing else.")
@translate_errors
def export(model_dir, output_dir):
    """Export a model as a TensorFlow SavedModel whose `serve` signature maps raw texts
    `(batch,) tf.string` to class probabilities `(batch, classes) float32`.

    \b
    Load it with tensorflow_text imported (custom ops), no `sentiment` needed:
      import tensorflow as tf, tensorflow_text
      model = tf.saved_model.load(OUTPUT)
      model.serve(tf.constant(["what a wonderful film"]))["probabilities"]

    A model over sequences exports `serve(values (batch, time, features) float32, lengths
    (batch,) int32)` and `serve_ragged(sequences)` (a ragged (batch, None, features)
    float32 tensor); tensorflow_text is not needed.
    """
    from ..artifacts import check_not_inside, check_not_input
    from ..paths import default_model_dir

    source = Path(model_dir) if model_dir else default_model_dir()
    check_not_input(output_dir, source)
    check_not_inside(output_dir, source)
    quiet_tensorflow()
    from ..export import EXPORT_INFO_FILE, export_saved_model

    written = export_saved_model(source, output_dir)
    info = json.loads((written / EXPORT_INFO_FILE).read_text("utf-8"))
    outputs = ", ".join(info["outputs"])
    inputs = ", ".join(info["input"]) if isinstance(info["input"], dict) else "texts"
    click.echo(f"SavedModel written to {written} (signature 'serve': {inputs} -> {outputs})"
               + (f"; '{info['ragged_endpoint']}' takes ragged sequences"
                  if "ragged_endpoint" in info else ""))
