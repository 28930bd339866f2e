import numpy as np
import pytest

from sentiment.config import ClassifierConfig
from sentiment.decisions import DecisionRule, chosen_scores, decision_for
from sentiment.errors import ConfigError

P = np.array([[0.7, 0.3], [0.45, 0.55], [0.1, 0.9]])


def test_the_argmax_by_default_and_a_threshold_on_the_second_class():
    assert DecisionRule(("neg", "pos")).decide(P) == ["neg", "pos", "pos"]
    low = DecisionRule(("neg", "pos"), threshold=0.25)
    assert low.decide(P) == ["pos", "pos", "pos"]
    high = DecisionRule(("neg", "pos"), threshold=0.6)
    assert high.decide(P) == ["neg", "neg", "pos"]
    # the score is the probability of the label given, not the top probability
    assert high.postprocess(P[1]) == {"label": "neg", "score": 0.45,
                                      "scores": {"neg": 0.45, "pos": 0.55}}
    assert chosen_scores(high, P).tolist() == pytest.approx([0.7, 0.45, 0.9])


def test_abstention_below_the_probability_of_the_chosen_label():
    rule = DecisionRule(("neg", "pos"), abstain_below=0.6, abstain_label="unsure")
    assert rule.indices(P).tolist() == [0, -1, 1]
    assert rule.decide(P) == ["neg", "unsure", "pos"]
    assert rule.postprocess(P[1])["label"] == "unsure"
    assert rule.postprocess(P[1])["score"] == pytest.approx(0.55)
    # with a threshold the chosen label may be the less probable one, judged on its own
    both = DecisionRule(("neg", "pos"), threshold=0.2, abstain_below=0.5)
    assert both.decide(P) == ["uncertain", "pos", "pos"]


def test_the_saved_threshold_is_used_unless_one_is_given():
    config = ClassifierConfig(labels=("neg", "pos"), threshold=0.6)
    assert DecisionRule.for_config(config).decide(P) == ["neg", "neg", "pos"]
    assert DecisionRule.for_config(config, threshold=0.5).decide(P) == ["neg", "pos", "pos"]


def test_errors_name_the_setting_and_the_value():
    with pytest.raises(ConfigError, match=r"threshold needs a two-class model; this model "
                                          r"has 3 classes \(a, b, c\)"):
        DecisionRule(("a", "b", "c"), threshold=0.5)
    with pytest.raises(ConfigError, match=r"abstain_below must be a probability in \[0, 1\]; "
                                          "received 1.5"):
        DecisionRule(("a", "b"), abstain_below=1.5)
    with pytest.raises(ConfigError, match="abstain_label 'b' is one of the model's classes"):
        DecisionRule(("a", "b"), abstain_below=0.5, abstain_label="b")
    with pytest.raises(ConfigError, match="abstain_below applies to single-label models"):
        DecisionRule(("a", "b"), multi_label=True, abstain_below=0.5)
    with pytest.raises(ConfigError, match="thresholds has 1 values for 2 labels"):
        DecisionRule(("a", "b"), multi_label=True, thresholds=(0.5,))
    with pytest.raises(ConfigError, match="threshold needs a two-class model"):
        ClassifierConfig(labels=("a", "b", "c"), threshold=0.5)


def test_multi_label_thresholds_per_label_and_a_row_with_none():
    probabilities = np.array([[0.9, 0.2, 0.35], [0.1, 0.2, 0.3]])
    rule = DecisionRule(("joy", "anger", "fear"), multi_label=True,
                        thresholds=(0.5, 0.15, 0.4))
    assert rule.decide(probabilities) == [["joy", "anger"], ["anger"]]
    empty = DecisionRule(("joy", "anger", "fear"), multi_label=True, thresholds=(0.5, 0.5, 0.5))
    assert empty.decide(probabilities) == [["joy"], []]
    top = DecisionRule(("joy", "anger", "fear"), multi_label=True,
                       thresholds=(0.5, 0.5, 0.5), if_no_label="top")
    assert top.decide(probabilities) == [["joy"], ["fear"]]
    assert top.postprocess(probabilities[1]) == {
        "labels": ["fear"], "scores": {"joy": 0.1, "anger": 0.2, "fear": 0.3}}
    # one threshold given at prediction time replaces the per-label ones
    config = ClassifierConfig(labels=("joy", "anger", "fear"), multi_label=True,
                              thresholds=(0.5, 0.15, 0.4))
    assert DecisionRule.for_config(config, threshold=0.25).decide(probabilities) == [
        ["joy", "fear"], ["fear"]]


def test_decision_for_a_regression_model_is_none_and_refuses_decision_keywords():
    config = ClassifierConfig(labels=(), task="regression")
    assert decision_for(config, "regression") is None
    assert decision_for(config, "regression", abstain_label="?") is None
    with pytest.raises(ConfigError, match="threshold, abstain_below: a regression model"):
        decision_for(config, "regression", threshold=0.5, abstain_below=0.6)


def test_decision_for_a_classifier_is_its_saved_rule():
    config = ClassifierConfig(labels=("neg", "pos"), threshold=0.3)
    rule = decision_for(config, "classification", abstain_below=0.6)
    assert rule == DecisionRule(labels=("neg", "pos"), threshold=0.3, abstain_below=0.6)
