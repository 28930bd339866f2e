"""Scoring on Apache Beam (``pip install 'sentiment[beam]'``): the same predictions as
``sentiment score``, on the local runner or on Dataflow, Flink or Spark.

    from sentiment.beam import ScoreTexts, SentimentModelHandler, score_files

``ScoreTexts`` and ``SentimentModelHandler`` go into pipelines of your own; ``score_files``
is what ``sentiment score --engine beam`` runs. Importing this package imports Apache Beam
(not TensorFlow: the model loads on the workers).
"""

from .handler import SentimentModelHandler, load_predictor
from .pipeline import BeamScoreResult, ScoreTexts, pipeline_options, score_files

__all__ = ["BeamScoreResult", "ScoreTexts", "SentimentModelHandler", "load_predictor",
           "pipeline_options", "score_files"]
