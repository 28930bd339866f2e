"""sentiment: train and serve sequence models (text classifiers, seq2seq forecasters).

``from sentiment import Predictor`` imports TensorFlow on first use only, so importing the
package itself (and ``sentiment --help``) stays fast.
"""

__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name):
    if name == "Predictor":
        from .predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
