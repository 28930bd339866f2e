"""Helpers of the serving tests (imported by them: ``from serving_helpers import ...``): a free
loopback port, a fake predictor (numpy only, no TensorFlow), an app served by uvicorn in a
thread over real HTTP on 127.0.0.1, an httpx client that ignores proxy settings."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def fake_probability(text: str) -> float:
    """What :class:`FakePredictor` gives as p(pos): the text's length mod 10, in tenths."""
    return (len(text) % 10) / 10


class FakePredictor:
    """A stand-in for :class:`sentiment.Predictor`: p(pos) from the text's length; records
    every batch; can hold its calls on ``gate`` (a ``threading.Event``) and fails a batch that
    holds the text ``"boom"``."""

    labels = ("neg", "pos")

    def __init__(self, gate: threading.Event | None = None):
        self.config = SimpleNamespace(max_length=8, to_dict=lambda: {"max_length": 8})
        self.gate = gate
        self.batches: list[list[str]] = []

    def predict_proba(self, texts, batch_size=256):
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        texts = list(texts)
        if "boom" in texts:
            raise RuntimeError("boom")
        self.batches.append(texts)
        p = np.array([fake_probability(text) for text in texts], dtype=np.float32)
        return np.stack([1 - p, p], axis=1)

    def postprocess(self, row):
        best = int(np.argmax(row))
        return {"label": self.labels[best], "score": float(row[best]),
                "scores": {name: float(p) for name, p in zip(self.labels, row)}}

    def explain(self, text, *, method="auto", target=None, steps=50):
        result = self.postprocess(self.predict_proba([text])[0])
        tokens = text.split() or ["[UNK]"]
        result.update(target=target or result["label"], method="integrated_gradients",
                      tokens=tokens, attributions=[0.0] * len(tokens))
        return result


@contextlib.contextmanager
def running(app, graceful_timeout: float = 5.0):
    """Serve ``app`` with uvicorn in a daemon thread on a free port of 127.0.0.1; yields the
    base URL; stops the server (bounded) on exit."""
    from sentiment.serving.server import GracefulServer, server_config

    port = free_port()
    server = GracefulServer(server_config(app, host=HOST, port=port, log_level="warning",
                                          access_log=False, graceful_timeout=graceful_timeout))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        assert not thread.is_alive(), "the server did not stop"


def client():
    """An httpx client that never uses proxies from the environment (loopback only), with
    timeouts."""
    import httpx

    return httpx.Client(timeout=30, trust_env=False)


@pytest.fixture
def http():
    """An httpx client for 127.0.0.1 only (environment proxies ignored), closed afterwards.
    A test module uses it by importing it (``from serving_helpers import http``): no
    conftest.py here, whose module name would clash with ``tests/conftest.py``."""
    with client() as session:
        yield session


def wait_ready(client, url: str, timeout: float = 20.0, headers=None) -> None:
    """Poll ``url/readyz`` until 200, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get(f"{url}/readyz", headers=headers).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready after {timeout} s")
