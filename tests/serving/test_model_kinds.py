"""`sentiment serve` for regression models and models over sequences of vectors, over real
HTTP on 127.0.0.1 (uvicorn in a thread, small trained models from tests/conftest.py): the
answers equal the predictor's, TensorFlow Serving's route gives the export's outputs, bad
sequences are a 422 naming their index while the server keeps serving. Bounded loops only."""

import time

import numpy as np
import pytest
from conftest import make_sequences
from serving_helpers import http, running, wait_ready  # noqa: F401

from sentiment.serving.app import create_app
from sentiment.serving.loading import ModelLoader
from sentiment.serving.settings import ServeSettings


def test_a_sequence_classifier_is_served(http, sequence_model_dir):
    from sentiment import Predictor

    loader = ModelLoader(sequence_model_dir)
    assert loader.check()["inputs"] == "sequences"
    predictor = Predictor.load(sequence_model_dir)
    sequences = [s.tolist() for s in make_sequences(5, seed=3).sequences]  # 3 to 12 frames
    expected = predictor.predict_proba(sequences)
    with running(create_app({"frames": loader})) as url:
        wait_ready(http, url)
        listed = http.get(f"{url}/v1/models").json()["models"][0]
        assert listed["inputs"] == "sequences" and listed["task"] == "classification"
        assert listed["batching"] == "dynamic"

        answer = http.post(f"{url}/v1/predict", json={"sequences": sequences})
        assert answer.status_code == 200, answer.text
        got = [[p["scores"][label] for label in predictor.labels]
               for p in answer.json()["predictions"]]
        np.testing.assert_allclose(got, expected, atol=1e-6)
        one = http.post(f"{url}/v1/predict", json={"sequence": sequences[1]}).json()
        assert one["prediction"] == predictor.predict(sequences[1])

        # TensorFlow Serving's route: the export's inputs (values right-padded, lengths)
        width = max(len(s) for s in sequences)
        padded = [s + [[99.0] * 3] * (width - len(s)) for s in sequences]
        lengths = [len(s) for s in sequences]
        columnar = http.post(f"{url}/v1/models/frames:predict",
                             json={"inputs": {"values": padded, "lengths": lengths}}).json()
        np.testing.assert_allclose(columnar["outputs"]["probabilities"], expected, atol=1e-6)
        labels = [predictor.labels[i] for i in np.argmax(expected, axis=1)]
        assert columnar["outputs"]["label"] == labels
        rows = http.post(f"{url}/v1/models/frames:predict", json={"instances": [
            {"values": padded[0], "lengths": lengths[0]}, sequences[1]]}).json()
        assert [row["label"] for row in rows["predictions"]] == labels[:2]

        # bad requests: 4xx naming the place, and the server keeps serving
        for body, status, message in (
                ({"sequences": [sequences[0], [[1.0, 2.0]]]}, 422,
                 "sequences[1]: 2 features per frame; the model takes 3"),
                ({"sequences": [[]]}, 422, "sequences[0]: the sequence has no frames"),
                ({"sequences": [[[1.0, None, 2.0]]]}, 422, "sequences[0]"),
                ({"sequences": ["1,2,3"]}, 422, "sequences[0] is string, not an array"),
                ({"texts": ["a text"]}, 400, "unknown field 'texts'"),
                ({"sequence": 3}, 422, "sequence is number"),
                ({"sequence": [[1.0, 2.0]]}, 422, "sequence: 2 features per frame"),
                ({"sequences": [sequences[0], [[10 ** 400, 1.0, 2.0]]]}, 422,
                 "sequences[1]: not a sequence of numbers")):
            answer = http.post(f"{url}/v1/predict", json=body)
            assert answer.status_code == status and message in answer.json()["error"], \
                (body, answer.text)
        answer = http.post(f"{url}/v1/models/frames:predict", json={"inputs": {
            "values": padded[:2], "lengths": [lengths[0], width + 1]}})
        assert answer.status_code == 422 and "inputs.lengths[1]" in answer.json()["error"]
        answer = http.post(f"{url}/v1/predict?explain=true", json={"sequence": sequences[0]})
        assert answer.status_code == 400 and "text classifiers" in answer.json()["error"]
        answer = http.post(f"{url}/v1/predict", json={"sequences": sequences[:2]})
        assert answer.status_code == 200


@pytest.mark.parametrize("kind", ["text", "sequences"])
def test_a_regression_model_is_served(http, kind, rated_model_dir, regression_model_dir):
    from sentiment import Predictor

    model_dir = rated_model_dir if kind == "text" else regression_model_dir
    items = (["great wonderful superb", "awful boring dull", ""] if kind == "text"
             else [s.tolist() for s in make_sequences(4, seed=5, regression=True).sequences])
    field = "texts" if kind == "text" else "sequences"
    predictor = Predictor.load(model_dir)
    expected = predictor.predict_values(items)
    # auto batching: continuous batching is for classifiers, so the dynamic batcher serves
    with running(create_app({"rated": ModelLoader(model_dir)}, ServeSettings())) as url:
        wait_ready(http, url)
        listed = http.get(f"{url}/v1/models").json()["models"][0]
        assert listed["task"] == "regression" and listed["labels"] == []
        assert listed["batching"] == "dynamic"
        answer = http.post(f"{url}/v1/predict", json={field: items})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == predictor.predict(items)  # float64, exactly
        assert set(answer.json()["predictions"][0]) == {"value"}
        # TensorFlow Serving omits the name of a model's single output
        tf_rows = http.post(f"{url}/v1/models/rated:predict", json={"instances": items}).json()
        np.testing.assert_allclose(tf_rows["predictions"], expected, rtol=1e-6)
        tf_columns = http.post(f"{url}/v1/models/rated:predict", json={"inputs": items}).json()
        np.testing.assert_allclose(tf_columns["outputs"], expected, rtol=1e-6)
        answer = http.post(f"{url}/v1/predict?explain=true", json={field: items[:1]})
        assert answer.status_code == 400


def test_continuous_batching_refuses_a_regression_model(http, rated_model_dir):
    failures = []
    app = create_app({"rated": ModelLoader(rated_model_dir)},
                     ServeSettings(batching="continuous"), on_fatal=failures.append)
    with running(app) as url:
        for _ in range(400):  # at most 20 s
            if failures:
                break
            time.sleep(0.05)
        assert failures and "--batching continuous" in failures[0], failures
        assert http.get(f"{url}/readyz").json()["status"] == "failed"
