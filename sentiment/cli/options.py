"""Options and error handling shared by every ``sentiment`` command.

Each option used by more than one command is defined once here and reused. Nothing here
imports TensorFlow, so ``sentiment --help`` and option errors answer at once.
"""

from __future__ import annotations

import functools
import os
import sys

import click

from ..config import ABSTAIN_LABEL, INFERENCE_BATCH_SIZE
from ..errors import SentimentError


class CliError(click.ClickException):
    """A one-line error with exit status 2 (like a usage error), shown without a traceback."""

    exit_code = 2


def translate_errors(func):
    """Run ``func`` and turn the library's :class:`SentimentError` into a :class:`CliError`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SentimentError as error:
            raise CliError(str(error)) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
            raise CliError(f"{error.strerror}: {error.filename}") from None

    return wrapper


#: Commands that only run models turn TensorFlow's oneDNN kernels on (``TF_ENABLE_ONEDNN_OPTS``
#: unset only; TensorFlow itself enables them by default on some x86 CPUs and not on others).
#: Predictions with and without them agree within float rounding; docs/benchmarks/scoring.md
#: measures the speed. Training keeps TensorFlow's default (docs/benchmarks/imdb.md).
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def enable_onednn() -> None:
    """Ask TensorFlow for its oneDNN kernels unless ``TF_ENABLE_ONEDNN_OPTS`` is already set.

    Only takes effect before TensorFlow is imported (the variable is read at import); child
    processes (server workers) inherit it.
    """
    os.environ.setdefault(ONEDNN_VARIABLE, "1")


def inference_tensorflow() -> None:
    """:func:`quiet_tensorflow` for the commands that only run models (``predict``,
    ``score``, ``evaluate``), after :func:`enable_onednn`."""
    enable_onednn()
    quiet_tensorflow()


def quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up logging silenced (set ``SENTIMENT_DEBUG=1`` to
    see it).

    TensorFlow writes some lines to file descriptor 2 before its logging is initialised, where
    ``TF_CPP_MIN_LOG_LEVEL`` cannot reach them, so standard error is pointed at /dev/null for
    the duration of the import. Python exceptions raised by the import still surface.
    """
    if not os.environ.get("SENTIMENT_DEBUG"):
        # level 3: oneDNN logs harmless "supports DT_INT64 only..." lines at ERROR level
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("SENTIMENT_DEBUG") or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
            import tensorflow_text  # noqa: F401

            tf.config.list_physical_devices("GPU")  # emits the CUDA probe messages now
    finally:
        os.dup2(saved, 2)
        os.close(saved)


model_option = click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Model directory written by `sentiment train` (default: $SENTIMENT_MODEL_DIR "
    "or ~/.sentiment/models/default).",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")

text_column_option = click.option(
    "--text-column", default="text", show_default=True, help="Column holding the text."
)

label_column_option = click.option(
    "--label-column", default="label", show_default=True, help="Column holding the label."
)

keep_label_strings_option = click.option(
    "--keep-label-strings", is_flag=True,
    help="Keep label cells such as NaN, NA or null as class names (by default they are "
    "reported as missing labels).",
)

inference_batch_size_option = click.option(
    "--batch-size", type=click.IntRange(min=1), default=INFERENCE_BATCH_SIZE, show_default=True,
    help="Texts per model call (sorted by length, so large batches add little padding).",
)

quiet_option = click.option("--quiet", is_flag=True, help="No progress output.")


def decision_options(func):
    """``--threshold``, ``--abstain-below`` and ``--abstain-label``: how probabilities become
    labels at prediction time (:class:`sentiment.decisions.DecisionRule`); the command gets
    them as one ``decision`` dict of the keywords ``Predictor.load`` takes."""
    probability = click.FloatRange(0.0, 1.0)

    @click.option("--threshold", type=probability, default=None, metavar="P",
                  help="Decision threshold on the probability of the second class (two-class "
                  "models), or of every label (multi-label models), in place of the saved "
                  "one (default: the saved threshold, else the most probable class).")
    @click.option("--abstain-below", type=probability, default=None, metavar="P",
                  help="Give --abstain-label instead of a label whose probability is below P "
                  "(single-label models).")
    @click.option("--abstain-label", default=ABSTAIN_LABEL, show_default=True,
                  help="The label given with --abstain-below.")
    @functools.wraps(func)
    def wrapper(*args, threshold, abstain_below, abstain_label, **kwargs):
        source = click.get_current_context().get_parameter_source("abstain_label")
        if abstain_below is None and source is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError("--abstain-label needs --abstain-below")
        decision = {"threshold": threshold, "abstain_below": abstain_below,
                    "abstain_label": abstain_label}
        return func(*args, decision=decision, **kwargs)

    return wrapper


def multi_label_data_options(func):
    """``--label-delimiter`` and ``--label-names``: how a multi-label file's label column is
    read (:func:`sentiment.data.load_labelled_file`)."""
    func = click.option(
        "--label-names", "label_names_file", type=click.Path(dir_okay=False), default=None,
        help="Multi-label: a file of label names, one per line; the label column then holds "
        "indices into it (0 is the first line).")(func)
    return click.option(
        "--label-delimiter", default=",", show_default=True,
        help="Multi-label: the separator of the labels in a text cell (JSON Lines and Parquet "
        "lists need none).")(func)

sequence_column_option = click.option(
    "--sequence-column", default=None,
    help="Column holding one sequence of vectors per row (a Parquet / JSON Lines list of "
    "frames, each a list of numbers, or a list of numbers; in CSV a JSON list): trains, "
    "scores or evaluates a model over sequences instead of texts.")
