"""Explanations: one signed score per token, integrated gradients complete, attention weights
where the model has them, CLI `predict --explain`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sentiment.errors import ConfigError, DataError


def test_one_score_per_token_and_integrated_gradients_are_complete(tiny_predictor):
    text = "The film was wonderful, the plot boring."
    explanation = tiny_predictor.explain(text, steps=128)
    assert explanation["method"] == "integrated_gradients"
    assert explanation["tokens"] == ["the", "film", "was", "wonderful", ",", "the", "plot",
                                     "boring", "."]
    assert len(explanation["attributions"]) == len(explanation["tokens"])
    # completeness (Sundararajan et al. 2017): the scores add up to p(text) - p(baseline)
    target = explanation["target"]
    gap = explanation["scores"][target] - explanation["baseline_score"]
    assert sum(explanation["attributions"]) == pytest.approx(gap, abs=0.02)
    assert explanation == {**explanation, **tiny_predictor.predict(text)}


def test_sentiment_words_get_the_strongest_attributions(tiny_predictor):
    explanation = tiny_predictor.explain("the movie was great and the story was brilliant")
    scores = dict(zip(explanation["tokens"], explanation["attributions"]))
    assert explanation["label"] == "pos"
    top_two = sorted(scores, key=lambda t: -scores[t])[:2]
    assert set(top_two) == {"great", "brilliant"}
    assert scores["great"] > 0 and scores["brilliant"] > 0


def test_explaining_the_other_class_flips_the_sign(tiny_predictor):
    text = "the movie was great"
    positive = tiny_predictor.explain(text, target="pos")["attributions"]
    negative = tiny_predictor.explain(text, target="neg")["attributions"]
    # binary softmax: p(neg) = 1 - p(pos), so the attributions are exact negatives
    np.testing.assert_allclose(negative, -np.asarray(positive), atol=1e-5)


def test_empty_text_and_bad_requests(tiny_predictor):
    explanation = tiny_predictor.explain("")
    assert explanation["tokens"] == ["[UNK]"] and len(explanation["attributions"]) == 1
    with pytest.raises(ConfigError, match="attention"):
        tiny_predictor.explain("great", method="attention")
    with pytest.raises(ConfigError, match="target"):
        tiny_predictor.explain("great", target="neutral")
    with pytest.raises(DataError):
        tiny_predictor.explain(42)


def test_attention_models_explain_with_their_weights(tiny_predictor):
    from sentiment.config import ClassifierConfig
    from sentiment.models.classifier import build_classifier
    from sentiment.predictor import Predictor

    config = ClassifierConfig(arch="gru", pooling="attention", embedding_dim=8, units=4,
                              labels=tiny_predictor.labels, max_length=64)
    model = build_classifier(config, tiny_predictor.encoder.vocabulary.vocabulary_size())
    predictor = Predictor(model, tiny_predictor.encoder, config)
    explanation = predictor.explain("a dull plot , superb cast")
    assert explanation["method"] == "attention"
    weights = np.asarray(explanation["attributions"])
    assert len(weights) == len(explanation["tokens"]) == 6
    assert (weights > 0).all() and weights.sum() == pytest.approx(1.0, abs=1e-5)
    ig = predictor.explain("a dull plot , superb cast", method="integrated_gradients")
    assert len(ig["attributions"]) == 6
    # weights do not depend on the class: a target switches auto to integrated gradients
    other = "pos" if explanation["label"] == "neg" else "neg"
    targeted = predictor.explain("a dull plot , superb cast", target=other)
    assert targeted["method"] == "integrated_gradients" and targeted["target"] == other
    with pytest.raises(ConfigError, match="needs method integrated_gradients"):
        predictor.explain("a dull plot", method="attention", target=other)


def test_an_ensemble_explains_with_the_mean_of_its_members(tiny_ensemble_dir):
    from sentiment.explain import integrated_gradients
    from sentiment.models.classifier import classifier_members
    from sentiment.predictor import Predictor

    predictor = Predictor.load(tiny_ensemble_dir)
    text = "the plot was boring but the cast was superb"
    explanation = predictor.explain(text, steps=128)
    ids = predictor.encoder.encode([text])[0].numpy()
    target = predictor.labels.index(explanation["target"])
    members = [integrated_gradients(member, ids, target, steps=128)
               for member in classifier_members(predictor.model)]
    assert len(members) == 2
    np.testing.assert_allclose(explanation["attributions"],
                               np.mean([scores for scores, _, _ in members], axis=0), atol=1e-6)
    gap = explanation["scores"][explanation["target"]] - explanation["baseline_score"]
    assert sum(explanation["attributions"]) == pytest.approx(gap, abs=0.02)


def test_ngram_models_explain_each_word_and_bigram(tiny_predictor):
    from sentiment.config import ClassifierConfig
    from sentiment.models.classifier import build_classifier
    from sentiment.predictor import Predictor
    from sentiment.text.encoder import TextEncoder

    base = tiny_predictor.encoder
    encoder = TextEncoder(base.tokenizer, base.vocabulary, 64, ngrams=2)
    config = ClassifierConfig(arch="fasttext", ngrams=2, embedding_dim=8,
                              labels=tiny_predictor.labels, max_length=64)
    model = build_classifier(config, base.vocabulary.vocabulary_size())
    explanation = Predictor(model, encoder, config).explain("a dull plot")
    assert explanation["tokens"] == ["a", "dull", "plot", "a dull", "dull plot"]
    assert len(explanation["attributions"]) == 5


def test_cli_predict_explain(tiny_model_dir):
    from sentiment.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--explain",
                                  "--json", "superb film", "dull"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["tokens"] for line in lines] == [["superb", "film"], ["dull"]]
    assert all(len(line["attributions"]) == len(line["tokens"]) for line in lines)
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--explain",
                                  "superb film"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(("pos\t", "neg\t")) and "integrated gradients" in lines[0]
    assert [line.split("\t")[0].strip() for line in lines[1:]] == ["superb", "film"]
    assert all(line.split("\t")[1][0] in "+-" for line in lines[1:])


def test_cli_predict_explain_method_target_and_steps(tiny_model_dir, tiny_predictor):
    from sentiment.cli import main

    runner = CliRunner()
    args = ["predict", "--model", str(tiny_model_dir), "--explain", "--json"]
    result = runner.invoke(main, [*args, "--target", "neg", "--steps", "8", "superb film"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    expected = tiny_predictor.explain("superb film", target="neg", steps=8)
    assert line["target"] == "neg" and line["method"] == "integrated_gradients"
    np.testing.assert_allclose(line["attributions"], expected["attributions"], atol=1e-6)
    result = runner.invoke(main, [*args, "--method", "attention", "superb film"])
    assert result.exit_code == 2 and "no per-token attention" in result.output
    result = runner.invoke(main, [*args, "--target", "neutral", "superb film"])
    assert result.exit_code == 2 and "target must be one of neg, pos" in result.output
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--steps", "8",
                                  "--target", "neg", "superb film"])
    assert result.exit_code == 2 and "--target and --steps need --explain" in result.output


@pytest.mark.parametrize("arch", ["cnn", "cnn-gru"])
def test_wordpiece_convolutional_models_explain_each_piece(arch):
    """Convolutional models take their mask from the ids (no mask_zero embedding) and WordPiece
    shows pieces: still one complete score per piece, and the same scores whatever the
    padding of the model's input."""
    from conftest import make_reviews
    from sentiment.config import ClassifierConfig
    from sentiment.explain import integrated_gradients
    from sentiment.models.classifier import build_classifier
    from sentiment.predictor import Predictor
    from sentiment.text.encoder import TextEncoder
    from sentiment.text.wordpiece import make_tokenizer, vocabulary_type

    texts, _ = make_reviews(200, seed=5)
    splitter = make_tokenizer("wordpiece")
    vocabulary = vocabulary_type("wordpiece").build(
        [splitter.tokenize(texts).flat_values.numpy()], max_size=120)
    config = ClassifierConfig(arch=arch, tokenizer="wordpiece", embedding_dim=8, units=4,
                              filters=4, labels=("neg", "pos"), max_length=64)
    model = build_classifier(config, vocabulary.vocabulary_size())
    predictor = Predictor(model, TextEncoder(splitter, vocabulary, max_length=64), config)
    text = "An unwatchable mess, wonderfully acted"
    explanation = predictor.explain(text, steps=128)
    ids = predictor.encoder.encode([text])[0].numpy()
    assert explanation["tokens"] == [vocabulary.id_to_token(int(i)) for i in ids]
    assert any(token.startswith("##") for token in explanation["tokens"])
    assert len(explanation["attributions"]) == len(ids)
    gap = explanation["scores"][explanation["target"]] - explanation["baseline_score"]
    assert sum(explanation["attributions"]) == pytest.approx(gap, abs=0.02)
    target = predictor.labels.index(explanation["target"])
    padded = np.concatenate([ids, np.zeros(20, ids.dtype)])
    scores, _, _ = integrated_gradients(model, padded, target, steps=128)
    np.testing.assert_allclose(scores[:len(ids)], explanation["attributions"], atol=1e-5)
    np.testing.assert_allclose(scores[len(ids):], 0.0, atol=1e-7)
