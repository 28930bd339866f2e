import numpy as np
import pytest

from sentiment.thresholds import (
    THRESHOLD_METRICS,
    apply_thresholds,
    tune_global_threshold,
    tune_label_thresholds,
    tune_threshold,
)


def f1_at(y, scores, t):
    """Binary F1 of ``scores >= t``, written independently of the code under test."""
    y, predicted = np.asarray(y, bool), np.asarray(scores) >= t
    tp = int((y & predicted).sum())
    denominator = int(y.sum()) + int(predicted.sum())
    return 2 * tp / denominator if denominator else 0.0


def accuracy_at(y, scores, t):
    return float(((np.asarray(scores) >= t) == np.asarray(y, bool)).mean())


METRIC = {"f1": f1_at, "accuracy": accuracy_at}


def test_f1_and_accuracy_by_hand():
    y = [0, 0, 0, 0, 1, 1]
    s = [0.1, 0.2, 0.3, 0.4, 0.15, 0.35]
    # sorted: 0.4(0) 0.35(1) 0.3(0) 0.2(0) 0.15(1) 0.1(0); 2 positives, 6 rows
    # >= t       none  0.4  0.35  0.3  0.2  0.15  0.1
    # F1 2TP/(P+PP) 0   0   2/4   2/5  2/6  4/7   4/8   -> best >= 0.15
    # accuracy    4/6  3/6  4/6   3/6  2/6  3/6   2/6   -> tie: none, >= 0.35
    # F1: >= 0.15 holds on (0.1, 0.15]; midpoint 0.125
    assert tune_threshold(y, s, "f1") == pytest.approx(0.125)
    # accuracy: none positive holds on (0.4, inf), which contains 0.5 -> 0.5 (the other
    # best, (0.3, 0.35], would give 0.325, further from 0.5)
    assert tune_threshold(y, s, "accuracy") == 0.5
    assert f1_at(y, s, tune_threshold(y, s)) == pytest.approx(4 / 7)


def test_ties_choose_the_threshold_closest_to_half():
    y = [1, 0, 0, 1]
    s = [0.1, 0.2, 0.3, 0.9]
    # F1 at >= 0.9: 2/3; >= 0.3: 2/4; >= 0.2: 2/5; >= 0.1: 4/6 = 2/3 -> tie.
    # >= 0.9 holds on (0.3, 0.9] (contains 0.5); >= 0.1 would be 0.05.
    assert tune_threshold(y, s, "f1") == 0.5
    # a split where scores do not discriminate keeps 0.5 whatever the metric
    for metric in THRESHOLD_METRICS:
        assert tune_threshold([0, 1, 0, 1], [0.5] * 4, metric) == 0.5
        assert tune_threshold([0, 1, 0, 1], [0.8] * 4, metric) == 0.5


def test_all_negative_rows():
    y = np.zeros(3, dtype=bool)
    s = [0.2, 0.6, 0.7]
    # F1 is 0 at every threshold: keep 0.5 (on (0.2, 0.6])
    assert tune_threshold(y, s, "f1") == 0.5
    # accuracy: only "none positive" is perfect; above a max < 1 that is 1.0
    assert tune_threshold(y, s, "accuracy") == 1.0
    # a score of 1.0 itself: no threshold in [0, 1] makes it negative; 1.0 is the closest
    t = tune_threshold([0, 0], [0.2, 1.0], "accuracy")
    assert t == 1.0 and accuracy_at([0, 0], [0.2, 1.0], t) == 0.5


def test_separable_data_gives_a_threshold_between_the_classes():
    y = [0, 0, 1, 1]
    assert tune_threshold(y, [0.1, 0.2, 0.7, 0.9]) == 0.5  # 0.5 separates them
    assert tune_threshold(y, [0.6, 0.7, 0.8, 0.9]) == pytest.approx(0.75)  # midway 0.7|0.8
    assert tune_threshold(y, [0.02, 0.04, 0.2, 0.3], "accuracy") == pytest.approx(0.12)
    # all-positive decisions: midway between the lowest score and 0
    # F1 at >= 0.4: 2/3; at >= 0.2: 1, holding on (-inf, 0.2] -> 0.1
    assert tune_threshold([1, 1], [0.2, 0.4]) == pytest.approx(0.1)
    assert tune_threshold([1, 1, 0], [0.2, 0.3, 0.1], "f1") == pytest.approx(0.15)


def test_ge_semantics_hold_for_adjacent_float32_scores():
    high = np.float32(0.3)
    low = np.nextafter(high, np.float32(0))  # the float32 midpoint rounds onto one of them
    t = tune_threshold([0, 1], np.array([low, high]))
    assert np.float32(t) == t  # a float32 value: float32 and float64 comparisons agree
    scores = np.array([low, high], dtype=np.float32)
    assert (scores >= t).tolist() == [False, True]
    assert (scores.astype(np.float64) >= t).tolist() == [False, True]
    # the midpoint of two nearby float32 scores, rounded to float32, still separates them
    a, b = np.float32(0.4), np.nextafter(np.nextafter(np.float32(0.4), np.float32(1)),
                                         np.float32(1))
    t = tune_threshold([0, 1], np.array([a, b], dtype=np.float32))
    assert (np.array([a, b], dtype=np.float32) >= np.float32(t)).tolist() == [False, True]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"metric must be one of f1, accuracy; received 'auc'"):
        tune_threshold([0, 1], [0.1, 0.9], metric="auc")
    with pytest.raises(ValueError, match="at least one row"):
        tune_threshold([], [])
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        tune_threshold([0, 1, 1], [0.1, 0.9])
    with pytest.raises(ValueError, match="0/1"):
        tune_threshold([0, 2], [0.1, 0.9])
    with pytest.raises(ValueError, match="metric must be one of"):
        tune_label_thresholds(np.zeros((2, 1)), np.zeros((2, 1)), metric="auc")


@pytest.mark.parametrize("metric", THRESHOLD_METRICS)
def test_matches_a_brute_force_search(metric):
    rng = np.random.default_rng(0)
    score_at = METRIC[metric]
    for trial in range(60):
        n = int(rng.integers(1, 40))
        y = rng.random(n) < rng.uniform(0.05, 0.95)
        scores = np.round(rng.random(n) * (1.0 if trial % 2 else 0.3), 2)  # ties included
        candidates = np.r_[np.unique(scores), np.nextafter(scores.max(), np.inf)]
        best = max(score_at(y, scores, c) for c in candidates)
        t = tune_threshold(y, scores, metric)
        assert isinstance(t, float)
        assert score_at(y, scores, t) == pytest.approx(best, abs=1e-12), (trial, t)
        # t sits between the two scores it separates (or is 0.5)
        above, below = scores[scores >= t], scores[scores < t]
        if t != 0.5:
            expected = ((above.min() + below.max()) / 2 if above.size and below.size else
                        above.min() / 2 if above.size else 1.0)
            assert t == pytest.approx(expected)


def test_is_fast_on_a_validation_split():
    rng = np.random.default_rng(1)
    y = rng.random(40_000) < 0.3
    scores = np.clip(y * 0.2 + rng.random(40_000) * 0.8, 0, 1)
    t = tune_threshold(y, scores)  # an O(n^2) search would take minutes here
    assert 0.0 < t < 1.0


def test_label_thresholds_and_global_threshold():
    y = np.array([[1, 0, 0], [0, 1, 0]])
    p = np.array([[0.9, 0.8, 0.3], [0.55, 0.6, 0.9]])
    # label 0: scores 0.9(1), 0.55(0) -> >= 0.9 on (0.55, 0.9] -> midpoint 0.725
    # label 1: 0.8(0), 0.6(1): F1 0 at >= 0.8, 2/3 at >= 0.6 on (-inf, 0.6] -> 0.5
    # label 2: no positive row -> 0.5
    thresholds = tune_label_thresholds(y, p)
    assert thresholds.dtype == np.float64 and thresholds.shape == (3,)
    np.testing.assert_allclose(thresholds, [0.725, 0.5, 0.5])
    # global over the 6 cells: sorted 0.9(1) 0.9(0) 0.8(0) 0.6(1) 0.55(0) 0.3(0), 2 positives
    # F1 at >= 0.9: 2/4, 0.8: 2/5, 0.6: 4/6, 0.55: 4/7, 0.3: 4/8 -> >= 0.6 on (0.55, 0.6]
    assert tune_global_threshold(y, p) == pytest.approx(0.575)
    assert tune_global_threshold(y, p) == tune_threshold(y.ravel(), p.ravel())
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 2\)"):
        tune_global_threshold(y, p[:, :2])


def test_apply_thresholds_empty_and_top():
    p = np.array([[0.2, 0.1], [0.7, 0.9], [0.5, 0.4]])
    assert apply_thresholds(p, 0.5).tolist() == [[False, False], [True, True], [True, False]]
    assert apply_thresholds(p, 0.6, if_no_label="top").tolist() == [
        [True, False], [True, True], [True, False]]
    # per-label thresholds: >= compares each column with its own threshold
    assert apply_thresholds(p, [0.75, 0.1]).tolist() == [
        [False, True], [False, True], [False, True]]
    assert apply_thresholds(p, 0.95, "top").tolist() == [
        [True, False], [False, True], [True, False]]
    assert apply_thresholds(p, 0.95).dtype == bool
    with pytest.raises(ValueError, match="if_no_label must be one of empty, top; received 'all'"):
        apply_thresholds(p, 0.5, if_no_label="all")
    with pytest.raises(ValueError, match=r"\(3,\)"):
        apply_thresholds(p, [0.5, 0.5, 0.5])
