"""``sentiment serve`` as a real process on a free port of 127.0.0.1, with the tiny model
trained by the session fixture, spoken to over HTTP with httpx: every route, parity with
``Predictor.predict``, bad input (the server answering after each case), 16 concurrent
clients, readiness, API keys, SIGTERM with a request in flight and Ctrl-C. Only 127.0.0.1 is
contacted; every loop is bounded in count and time; every process is ended in a finally."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from serving_helpers import HOST, client, free_port, http  # noqa: F401  (http: a fixture)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-6
SHORT = ["what a wonderful film", "a dull , tedious mess", "", "   ", "Great!",
         "the plot was boring and the actors were awful", "été 🎬 très bien",
         "lone \ud800 surrogate"]
LONG = [" ".join((["the", "film", "was", "superb", "and", "moving"] * 100)[:600]),
        " ".join((["boring", "plot", "terrible", "dull", "story"] * 120)[:600]),
        " ".join(f"word{i}" for i in range(600)),
        " ".join((["great"] * 300) + (["awful"] * 300))]


@contextlib.contextmanager
def start_server(args: list[str], log_path, stop_signal=signal.SIGTERM):
    """``sentiment serve ARGS --port P`` as a subprocess (output to ``log_path``); yields
    ``url``, ``process``, ``log``; on exit the process is stopped (SIGTERM, then SIGKILL after
    20 s) unless it already ended."""
    port = free_port()
    command = [sys.executable, "-c", "from sentiment.cli import main; main()", "serve",
               "--host", HOST, "--port", str(port), *args]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield SimpleNamespace(url=f"http://{HOST}:{port}", process=process, log=log_path)
    finally:
        if process.poll() is None:
            process.send_signal(stop_signal)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def post(http, url: str, data, **kwargs) -> httpx.Response:
    """POST ``data`` as JSON with non-ASCII escaped (httpx's ``json=`` cannot send a lone
    surrogate, which JSON's ``\\ud800`` escape can)."""
    return http.post(url, content=json.dumps(data), **kwargs)


def server_log(server) -> str:
    return server.log.read_text(encoding="utf-8", errors="replace")


def wait_until_ready(server, http, timeout: float = 90.0, headers=None) -> list[tuple]:
    """Poll ``/healthz`` and ``/readyz`` until ready (bounded); the ``(healthz, readyz)``
    status pairs seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"the server exited:\n{server_log(server)}"
        try:
            health = http.get(f"{server.url}/healthz").status_code
            ready = http.get(f"{server.url}/readyz", headers=headers)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        seen.append((health, ready.status_code, ready.json().get("status")))
        if ready.status_code == 200:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"not ready after {timeout} s:\n{server_log(server)}")


def assert_same(result: dict, expected: dict) -> None:
    assert result["label"] == expected["label"]
    assert abs(result["score"] - expected["score"]) <= TOLERANCE
    assert result["scores"].keys() == expected["scores"].keys()
    for name, value in expected["scores"].items():
        assert abs(result["scores"][name] - value) <= TOLERANCE, (name, result, expected)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    """The tiny model served twice (``tiny``, the default, and ``second``). Stopped with
    Ctrl-C (SIGINT) at the end: it must exit with status 0."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    args = ["--model", f"tiny={tiny_model_dir}", "--model", f"second={tiny_model_dir}",
            "--max-batch-size", "64", "--max-queue", "2000", "--max-body-size", "300000"]
    with start_server(args, log) as handle, client() as http:
        wait_until_ready(handle, http)
        yield handle
        handle.process.send_signal(signal.SIGINT)
        assert handle.process.wait(30) == 0, server_log(handle)


@pytest.fixture(scope="module")
def expected(tiny_predictor):
    """``Predictor.predict`` of every test text, one text per call."""
    return {text: tiny_predictor.predict(text) for text in SHORT + LONG}


def test_routes(server, http, tiny_model_dir):
    assert http.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert http.get(f"{server.url}/readyz").json() == {
        "status": "ready", "models": {"tiny": "ready", "second": "ready"}}
    models = http.get(f"{server.url}/v1/models").json()
    assert models["default"] == "tiny"
    assert [m["name"] for m in models["models"]] == ["tiny", "second"]
    tiny = models["models"][0]
    assert tiny["default"] is True and tiny["state"] == "ready"
    assert tiny["labels"] == ["neg", "pos"]
    assert tiny["config"]["arch"] == "bigru" and tiny["config"]["max_length"] == 64
    assert tiny["trained_with"]["tensorflow"].startswith("2.")
    assert tiny["warmup_seconds"] > 0
    assert tiny["batching"] == "dynamic"  # a bidirectional GRU needs the whole text
    assert {"sentiment", "tensorflow", "fastapi", "uvicorn", "python"} <= set(
        models["server"]["versions"])
    assert models["server"]["settings"]["max_batch_size"] == 64
    assert str(tiny_model_dir) not in str(models)  # no server paths to clients
    status = http.get(f"{server.url}/v1/models/second").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metrics = http.get(f"{server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in ("sentiment_http_requests_total", "sentiment_http_request_duration_seconds",
                 "sentiment_batch_size_texts", "sentiment_queue_depth_texts",
                 "sentiment_texts_scored_total", 'sentiment_model_ready{model="second"} 1.0',
                 "process_resident_memory_bytes"):
        assert name in metrics.text


def test_predictions_equal_the_predictors(server, http, expected):
    texts = SHORT + LONG
    for model in ("", "?model=tiny", "?model=second"):
        answer = post(http, f"{server.url}/v1/predict{model}", {"texts": texts})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == (model.partition("=")[2] or "tiny")
        assert len(body["predictions"]) == len(texts)
        for text, result in zip(texts, body["predictions"]):
            assert_same(result, expected[text])
    answer = http.post(f"{server.url}/v1/predict", json={"text": LONG[0]}).json()
    assert answer["model"] == "tiny"
    assert_same(answer["prediction"], expected[LONG[0]])
    assert http.post(f"{server.url}/v1/predict", json={"texts": []}).json() == {
        "model": "tiny", "predictions": []}


def test_explain(server, http, tiny_predictor):
    text = "a wonderful , moving film"
    answer = http.post(f"{server.url}/v1/predict?explain=true&steps=20", json={"text": text})
    assert answer.status_code == 200, answer.text
    result = answer.json()["prediction"]
    reference = tiny_predictor.explain(text, steps=20)
    assert result["tokens"] == reference["tokens"] and result["method"] == reference["method"]
    assert result["attributions"] == pytest.approx(reference["attributions"], abs=1e-5)
    assert_same(result, reference)
    answer = http.post(f"{server.url}/v1/predict?explain=true&target=nope",
                       json={"text": text})
    assert answer.status_code == 400 and "target must be one of neg, pos" in answer.text


def test_tensorflow_serving_route(server, http, expected):
    import base64

    texts = [SHORT[0], LONG[1], SHORT[6]]
    encoded = {"b64": base64.b64encode(SHORT[6].encode()).decode()}
    for instances in ([texts[0], texts[1], texts[2]],
                      [{"texts": texts[0]}, {"texts": texts[1]}, encoded]):
        answer = http.post(f"{server.url}/v1/models/second:predict",
                           json={"signature_name": "serving_default", "instances": instances})
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        for text, prediction in zip(texts, predictions):
            assert prediction["label"] == expected[text]["label"]
            assert prediction["probabilities"] == pytest.approx(
                list(expected[text]["scores"].values()), abs=TOLERANCE)
    answer = http.post(f"{server.url}/v1/models/tiny:predict", json={"inputs": {"texts": texts}})
    outputs = answer.json()["outputs"]
    assert outputs["label"] == [expected[text]["label"] for text in texts]
    assert outputs["probabilities"][1] == pytest.approx(
        list(expected[texts[1]]["scores"].values()), abs=TOLERANCE)
    answer = http.post(f"{server.url}/v1/models/missing:predict", json={"instances": ["a"]})
    assert answer.status_code == 404 and "unknown model 'missing'" in answer.json()["error"]


def test_the_readme_examples(server, http):
    """The curl examples of README's serving section, their models renamed to ours."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Serving over HTTP"):readme.index("## Python")]
    examples = re.findall(r"curl -s '?localhost:8000(\S+?)'? -d '(.*)'", section)
    assert len(examples) >= 3
    for path, body in examples:
        answer = http.post(f"{server.url}{path.replace('sst2', 'second')}", content=body)
        assert answer.status_code == 200, (path, answer.text)
        assert "predictions" in answer.json() or "prediction" in answer.json()


BAD_INPUT = [  # (path, body bytes, status, words of the error)
    ("/v1/predict", b'{"texts": ["a", 3]}', 422, "texts[1] is number, not a string"),
    ("/v1/predict", b'{"text": null}', 422, "text is null, not a string"),
    ("/v1/predict", b'{"texts": "not a list"}', 400, "texts must be an array"),
    ("/v1/predict", b'{"txt": ["a"]}', 400, "unknown field 'txt'"),
    ("/v1/predict", b'["a", "b"]', 400, "must be a JSON object"),
    ("/v1/predict", b'{"texts": ["a"', 400, "not valid JSON"),
    ("/v1/predict", b"", 400, "empty"),
    ("/v1/predict", b"\xff\xfe\x00garbage", 400, ""),
    ("/v1/predict", b"[" * 50_000, 400, ""),
    ("/v1/predict", b'{"texts": ["' + b"x" * 400_000 + b'"]}', 413, "300,000 bytes"),
    ("/v1/predict", b'{"texts": [' + b'"a",' * 2000 + b'"a"]}', 413, "--max-queue 2,000"),
    ("/v1/predict?model=nope", b'{"text": "a"}', 404, "unknown model 'nope'"),
    ("/v1/predict?explain=sometimes", b'{"text": "a"}', 400, "query parameter explain"),
    ("/v1/models/tiny:predict", b'{"instances": ["a", {"b64": 1}]}', 422,
     "instances[1].b64 is number"),
    ("/v1/models/tiny:predict", b'{"instances": "a"}', 400, "instances must be an array"),
    ("/v1/models/tiny:predict", b'{"signature_name": "x", "instances": ["a"]}', 400,
     "signature_name 'x' not found"),
    ("/v1/models/nope:predict", b'{"instances": ["a"]}', 404, "unknown model 'nope'"),
    ("/v1/nothing", b"{}", 404, "no route POST /v1/nothing"),
]


def test_bad_input_never_kills_the_server(server, http, expected):
    for path, body, status, words in BAD_INPUT:
        answer = http.post(f"{server.url}{path}", content=body)
        assert answer.status_code == status, (path, body[:40], answer.text)
        assert words in answer.json()["error"], (path, answer.text)
        assert http.get(f"{server.url}/healthz").status_code == 200
        check = http.post(f"{server.url}/v1/predict", json={"text": SHORT[0]})
        assert check.status_code == 200
        assert_same(check.json()["prediction"], expected[SHORT[0]])
    assert server.process.poll() is None


# A full queue (503 with Retry-After, the queued requests still answered) is tested in
# test_app.py over real HTTP with a predictor that blocks until released: against the real
# model, whether a second request finds the first one's texts still queued is only a race.


def check_concurrent_clients(url: str, expected: dict, model: str) -> float:
    """16 threads, each with its own connection, 12 requests each: short and 600-token
    texts, one or two per request; every answer must equal the single-text prediction.
    Returns the mean batch the server formed (``sentiment_batch_size_texts``)."""
    def worker(index: int) -> int:
        checked = 0
        with client() as http:
            for step in range(12):
                short, long = SHORT[(index + step) % len(SHORT)], LONG[(index * 3 + step) % 4]
                texts = [long] if step % 3 == 0 else [short] if step % 3 == 1 else [short, long]
                answer = post(http, f"{url}/v1/predict", {"texts": texts})
                assert answer.status_code == 200, answer.text
                predictions = answer.json()["predictions"]
                assert len(predictions) == len(texts)
                for text, result in zip(texts, predictions):
                    assert_same(result, expected[text])
                checked += 1
        return checked

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(worker, range(16), timeout=300)) == [12] * 16
    metrics = httpx.get(f"{url}/metrics", trust_env=False, timeout=30).text
    batches = float(metrics.split(f'sentiment_batch_size_texts_count{{model="{model}"}} ')[1]
                    .split()[0])
    texts = float(metrics.split(f'sentiment_batch_size_texts_sum{{model="{model}"}} ')[1]
                  .split()[0])
    return texts / batches


def test_concurrent_clients_get_their_own_results(server, expected):
    assert check_concurrent_clients(server.url, expected, "tiny") > 1.0  # shared batches


def test_continuous_batching_serves_a_gru_model(tiny_ensemble_dir, tmp_path, http):
    """A forward-only GRU (the tiny ensemble) with --batching continuous: its texts join
    and leave the running batch, and every answer still equals Predictor.predict."""
    from sentiment.predictor import Predictor

    predictor = Predictor.load(tiny_ensemble_dir)
    expected = {text: predictor.predict(text) for text in SHORT + LONG}
    args = ["--model", f"gru={tiny_ensemble_dir}", "--batching", "continuous",
            "--chunk-steps", "16", "--max-batch-size", "8"]
    with start_server(args, tmp_path / "server.log") as server:
        wait_until_ready(server, http)
        listing = http.get(f"{server.url}/v1/models").json()
        assert listing["models"][0]["batching"] == "continuous"
        assert listing["server"]["settings"]["chunk_steps"] == 16
        # texts in flight per chunk: more than one (shared), at most --max-batch-size
        assert 1.0 < check_concurrent_clients(server.url, expected, "gru") <= 8
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server_log(server)


def test_continuous_batching_refuses_a_bidirectional_model(tiny_model_dir, tmp_path):
    args = ["--model", str(tiny_model_dir), "--batching", "continuous"]
    with start_server(args, tmp_path / "server.log") as server:
        assert server.process.wait(120) != 0
        assert ("--batching continuous needs a forward-only recurrent single-label text "
                "classifier" in server_log(server))


def test_readiness_api_keys_and_sigterm_with_a_request_in_flight(tiny_model_dir, tmp_path,
                                                                  http, tiny_predictor):
    key = "s3cret-key-for-the-test"
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# the test's key\n{key}\n")
    key_file.chmod(0o600)
    auth = {"Authorization": f"Bearer {key}"}
    args = ["--model", str(tiny_model_dir), "--api-key-file", str(key_file),
            "--max-batch-size", "4096", "--max-queue", "100000",
            "--max-body-size", "20000000"]
    with start_server(args, tmp_path / "server.log") as server:
        seen = wait_until_ready(server, http, headers=auth)
        # the process answered /healthz while the model was still loading: not ready then
        assert seen[0][:2] == (200, 503) and seen[0][2] == "loading", seen
        assert all(ready == 503 for _, ready, _ in seen[:-1]) and seen[-1][1] == 200
        model = http.get(f"{server.url}/v1/models", headers=auth).json()["models"][0]
        assert model["name"] == "tiny" and model["warmup_seconds"] > 0  # bare DIR: its name

        for path in ("/readyz", "/metrics", "/v1/models", "/v1/predict", "/elsewhere"):
            assert http.post(f"{server.url}{path}", json={"text": "a"}).status_code == 401
            wrong = http.get(f"{server.url}{path}", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        assert http.get(f"{server.url}/healthz").status_code == 200

        texts = [f"the film number {i} was great fun" for i in range(20_000)]
        holder = {}

        def big_request():
            with client() as session:
                holder["answer"] = session.post(f"{server.url}/v1/predict",
                                                json={"texts": texts}, headers=auth,
                                                timeout=120)

        thread = threading.Thread(target=big_request)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            in_flight = 'sentiment_http_requests_in_flight{route="/v1/predict"} 1.0'
            while in_flight not in http.get(f"{server.url}/metrics", headers=auth).text:
                assert time.monotonic() < deadline and thread.is_alive(), "never in flight"
                time.sleep(0.01)
            server.process.send_signal(signal.SIGTERM)
            refused = False
            for _ in range(100):  # the listening socket closes at once
                try:
                    httpx.get(f"{server.url}/healthz", trust_env=False, timeout=2)
                except httpx.TransportError:
                    refused = True
                    break
                time.sleep(0.05)
            assert refused, "the server went on accepting connections after SIGTERM"
        finally:
            thread.join(120)
        answer = holder["answer"]
        assert answer.status_code == 200
        predictions = answer.json()["predictions"]
        assert len(predictions) == len(texts)
        for index in (0, 777, 19_999):
            assert_same(predictions[index], tiny_predictor.predict(texts[index]))
        assert server.process.wait(60) == 0, server_log(server)
        log = server_log(server)
        assert "received SIGTERM" in log and key not in log


def test_a_multi_label_model_is_served_with_its_thresholds(multilabel_model_dir, tmp_path,
                                                           http):
    """A multi-label model: /v1/predict gives its labels and scores as Predictor.predict,
    the TensorFlow Serving route the outputs of its SavedModel, and it is batched
    dynamically (continuous batching is for single-label models)."""
    from sentiment.predictor import Predictor

    predictor = Predictor.load(multilabel_model_dir)
    texts = ["i am so happy and glad", "furious and delighted", "the plot"]
    with start_server(["--model", f"emotions={multilabel_model_dir}"],
                      tmp_path / "server.log") as server:
        wait_until_ready(server, http)
        listing = http.get(f"{server.url}/v1/models").json()
        assert listing["models"][0]["batching"] == "dynamic"
        answer = http.post(f"{server.url}/v1/predict", json={"texts": texts}).json()
        for result, want in zip(answer["predictions"], predictor.predict(texts)):
            assert result["labels"] == want["labels"]
            assert result["scores"] == pytest.approx(want["scores"], abs=TOLERANCE)
        rows = http.post(f"{server.url}/v1/models/emotions:predict",
                         json={"instances": texts}).json()["predictions"]
        sets = predictor.decision.label_sets(predictor.predict_proba(texts))
        assert [row["predicted"] for row in rows] == sets.tolist()
        assert rows[0]["thresholds"] == pytest.approx(list(predictor.config.thresholds))
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server_log(server)


def test_an_ensemble_of_different_models_is_served(mixed_ensemble_dir, tmp_path, http):
    """`sentiment ensemble` output (a BiGRU and a bigram model): served with dynamic batching,
    its answers, explanations and model listing as the EnsemblePredictor's."""
    from sentiment.predictor import Predictor

    predictor = Predictor.load(mixed_ensemble_dir)
    with start_server(["--model", f"both={mixed_ensemble_dir}"],
                      tmp_path / "server.log") as server:
        wait_until_ready(server, http)
        listing = http.get(f"{server.url}/v1/models").json()
        assert listing["models"][0]["batching"] == "dynamic"
        assert listing["models"][0]["labels"] == list(predictor.labels)
        answer = post(http, f"{server.url}/v1/predict", {"texts": SHORT}).json()
        for result, want in zip(answer["predictions"], predictor.predict(SHORT)):
            assert_same(result, want)
        explained = http.post(f"{server.url}/v1/predict?explain=true&steps=8",
                              json={"text": SHORT[0]})
        assert explained.status_code == 200, explained.text
        assert len(explained.json()["prediction"]["members"]) == 2
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server_log(server)
