"""The app over real HTTP on 127.0.0.1 (uvicorn in a thread) with fake predictors, for what
needs control over the model: readiness only after warm-up, API keys, limits, a full queue,
a failing request in a shared batch. Every loop is bounded."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from serving_helpers import FakePredictor, fake_probability, http, running, wait_ready  # noqa: F401

from sentiment.serving.app import create_app
from sentiment.serving.settings import ServeSettings


def test_ready_only_after_the_warm_up_batch(http):
    gate = threading.Event()
    predictor = FakePredictor(gate)
    with running(create_app({"fake": predictor})) as url:
        assert http.get(f"{url}/healthz").json() == {"status": "ok"}
        for _ in range(3):
            answer = http.get(f"{url}/readyz")
            assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
            assert answer.json() == {"status": "loading", "models": {"fake": "loading"}}
            time.sleep(0.05)
        answer = http.post(f"{url}/v1/predict", json={"text": "too early"})
        assert answer.status_code == 503 and "loading" in answer.json()["error"]
        assert answer.headers["retry-after"] == "1"
        assert predictor.batches == []  # the warm-up batch is still held
        gate.set()
        wait_ready(http, url)
        assert len(predictor.batches) == 1  # the warm-up batch ran before readiness
        answer = http.post(f"{url}/v1/predict", json={"text": "now"})
        assert answer.status_code == 200
        assert answer.json()["prediction"]["scores"]["pos"] == pytest.approx(
            fake_probability("now"))


def test_a_model_that_fails_to_load_is_reported(http):
    def broken_loader():
        raise OSError("disk on fire")

    messages = []
    with running(create_app({"ok": FakePredictor(), "broken": broken_loader},
                            on_fatal=messages.append)) as url:
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            time.sleep(0.02)
        assert messages == ["model 'broken' could not be loaded: OSError: disk on fire"]
        answer = http.get(f"{url}/readyz")
        assert answer.status_code == 503 and answer.json()["status"] == "failed"
        assert "disk on fire" in answer.json()["error"]
        answer = http.post(f"{url}/v1/predict?model=broken", json={"text": "x"})
        assert answer.status_code == 503 and "failed to load" in answer.json()["error"]


def test_api_keys(http):
    settings = ServeSettings(api_keys=("old-key-1", "new-key-2"))
    with running(create_app({"fake": FakePredictor()}, settings)) as url:
        assert http.get(f"{url}/healthz").status_code == 200  # open: liveness probes
        for method, path in [("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/v1/models"),
                             ("GET", "/v1/models/fake"), ("POST", "/v1/predict"),
                             ("POST", "/v1/models/fake:predict"), ("GET", "/nowhere")]:
            for headers in [{}, {"Authorization": "Bearer wrong"},
                            {"Authorization": "Basic old-key-1"},
                            {"Authorization": "Bearer old-key"}, {"Authorization": "old-key-1"},
                            {"Authorization": "Bearer old-key-1x"}]:
                answer = http.request(method, f"{url}{path}", headers=headers,
                                      content=b'{"text": "x"}')
                assert answer.status_code == 401, (method, path, headers)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert "old-key" not in answer.text and "new-key" not in answer.text
        wait_ready(http, url, headers={"Authorization": "Bearer old-key-1"})
        for key in ("old-key-1", "new-key-2"):
            answer = http.post(f"{url}/v1/predict", json={"texts": ["a", "bb"]},
                               headers={"Authorization": f"bearer {key}"})
            assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
        models = http.get(f"{url}/v1/models", headers={"Authorization": "Bearer new-key-2"})
        assert "key-" not in models.text
        assert models.json()["server"]["settings"]["authentication"] is True
        metrics = http.get(f"{url}/metrics", headers={"Authorization": "Bearer new-key-2"})
        assert 'route="/v1/predict",status="401"' in metrics.text


def test_limits(http):
    settings = ServeSettings(max_body_size=1000, max_queue=50, max_explain_texts=2)
    with running(create_app({"fake": FakePredictor()}, settings)) as url:
        wait_ready(http, url)
        answer = http.post(f"{url}/v1/predict", json={"texts": ["x" * 600, "y" * 600]})
        assert answer.status_code == 413 and "1,000 bytes" in answer.json()["error"]

        def chunked():  # no Content-Length: counted as it arrives
            yield b'{"texts": ["'
            for _ in range(20):
                yield b"z" * 100
            yield b'"]}'

        answer = http.post(f"{url}/v1/predict", content=chunked())
        assert answer.status_code == 413
        answer = http.post(f"{url}/v1/predict", json={"texts": ["a"] * 51})
        assert answer.status_code == 413 and "--max-queue 50" in answer.json()["error"]
        answer = http.post(f"{url}/v1/predict?explain=true", json={"texts": ["a"] * 3})
        assert answer.status_code == 413 and "at most 2" in answer.json()["error"]
        for query, words in [("explain=maybe", "query parameter explain"),
                             ("steps=5", "steps needs explain=true"),
                             ("explain=true&steps=0", "query parameter steps"),
                             ("explain=true&steps=100000", "at most 500")]:
            answer = http.post(f"{url}/v1/predict?{query}", json={"text": "a"})
            assert answer.status_code == 400 and words in answer.json()["error"], query
        answer = http.post(f"{url}/v1/predict?explain=true", json={"texts": ["a b", "c"]})
        assert answer.status_code == 200
        assert [p["tokens"] for p in answer.json()["predictions"]] == [["a", "b"], ["c"]]
        assert http.post(f"{url}/v1/predict", json={"texts": ["a"] * 50}).status_code == 200


def test_a_full_queue_answers_503_and_the_queued_requests_still_succeed(http):
    gate = threading.Event()
    predictor = FakePredictor(gate)
    # one batch at a time: the held batch leaves the rest of the texts queued
    settings = ServeSettings(max_queue=10, max_batch_size=4, max_wait_ms=0, concurrent_batches=1)
    with running(create_app({"fake": predictor}, settings)) as url, \
            ThreadPoolExecutor(4) as pool:
        gate.set()
        wait_ready(http, url)
        gate.clear()  # hold the batches: the queue fills up
        texts = [f"text {i}" for i in range(10)]
        first = pool.submit(http.post, f"{url}/v1/predict", json={"texts": texts[:4]})
        second = pool.submit(http.post, f"{url}/v1/predict", json={"texts": texts[4:]})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # 4 texts held in a batch, 6 queued
            metrics = http.get(f"{url}/metrics").text
            if 'sentiment_queue_depth_texts{model="fake"} 6.0' in metrics:
                break
            time.sleep(0.02)
        answer = http.post(f"{url}/v1/predict", json={"texts": ["a"] * 5})
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "queue" in answer.json()["error"]
        gate.set()
        results = [first.result(timeout=20).json(), second.result(timeout=20).json()]
        scores = [p["scores"]["pos"] for result in results for p in result["predictions"]]
        assert scores == pytest.approx([fake_probability(text) for text in texts])


def test_a_failing_request_does_not_fail_the_others_in_its_batch(http):
    settings = ServeSettings(max_wait_ms=300)  # the requests below share one batch
    predictor = FakePredictor()
    with running(create_app({"fake": predictor}, settings)) as url, \
            ThreadPoolExecutor(3) as pool:
        wait_ready(http, url)
        bodies = [{"texts": ["ok one"]}, {"texts": ["x", "boom"]}, {"text": "ok three!"}]
        answers = list(pool.map(lambda body: http.post(f"{url}/v1/predict", json=body),
                                bodies))
        assert [answer.status_code for answer in answers] == [200, 500, 200]
        assert "see the server log" in answers[1].json()["error"]
        assert answers[0].json()["predictions"][0]["scores"]["pos"] == pytest.approx(
            fake_probability("ok one"))
        assert answers[2].json()["prediction"]["scores"]["pos"] == pytest.approx(
            fake_probability("ok three!"))
        assert http.get(f"{url}/healthz").status_code == 200
        body = json.dumps({"texts": ["still answering"]})
        assert http.post(f"{url}/v1/predict", content=body).status_code == 200
