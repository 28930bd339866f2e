"""Prometheus metrics of a served application, on a private registry per app.

``GET /metrics`` exposes (``route`` is the route template, e.g. ``/v1/predict`` or
``/v1/models/{name}:predict``; ``unmatched`` for paths that are no route, so clients cannot
grow the label set):

* ``sentiment_http_requests_total{route, method, status}``: requests answered;
* ``sentiment_http_request_duration_seconds{route}``: latency histogram;
* ``sentiment_http_requests_in_flight{route}``: requests being handled;
* ``sentiment_batch_size_texts{model}``: texts per model call (histogram; its ``_sum`` /
  ``_count`` is the mean batch size, the batcher at work; with continuous batching, the
  texts in flight in one chunk of steps);
* ``sentiment_batch_duration_seconds{model}``: time of one ``predict_proba`` call (one
  chunk of steps with continuous batching);
* ``sentiment_queue_wait_seconds{model}``: from a request's arrival to its batch's start
  (to its text's first chunk with continuous batching);
* ``sentiment_queue_depth_texts{model}``: texts waiting;
* ``sentiment_texts_scored_total{model}``: texts scored (warm-up excluded);
* ``sentiment_model_ready{model}``: 1 once loaded and warmed up;
* ``process_*``: memory, CPU time and open files of the process (single process only).

With several worker processes (``--workers N``) the values of all workers are aggregated
through ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode): gauges are
summed over live workers, readiness is the minimum.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ServingMetrics:
    """The collectors of one app; :meth:`render` gives the text exposition format."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess: bool = False):
        self.multiprocess = multiprocess
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "sentiment_http_requests", "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"), registry=registry)
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.", ("route",),
            buckets=LATENCY_BUCKETS, registry=registry)
        self.in_flight = Gauge(
            "sentiment_http_requests_in_flight", "HTTP requests being handled.", ("route",),
            registry=registry, multiprocess_mode="livesum")
        self.batch_size = Histogram(
            "sentiment_batch_size_texts", "Texts per model call formed by the batcher.",
            ("model",), buckets=BATCH_BUCKETS, registry=registry)
        self.batch_duration = Histogram(
            "sentiment_batch_duration_seconds", "Time of one model call (a batch, or a chunk of steps).",
            ("model",), buckets=LATENCY_BUCKETS, registry=registry)
        self.queue_wait = Histogram(
            "sentiment_queue_wait_seconds",
            "Time from a request's arrival in the queue to the start of its batch.",
            ("model",), buckets=LATENCY_BUCKETS, registry=registry)
        self.queue_depth = Gauge(
            "sentiment_queue_depth_texts", "Texts waiting in the model's queue.", ("model",),
            registry=registry, multiprocess_mode="livesum")
        self.texts_scored = Counter(
            "sentiment_texts_scored", "Texts scored (warm-up excluded).", ("model",),
            registry=registry)
        self.model_ready = Gauge(
            "sentiment_model_ready", "1 once the model is loaded and a warm-up batch has run.",
            ("model",), registry=registry, multiprocess_mode="livemin")
        if not multiprocess:
            ProcessCollector(registry=registry)

    def add_model(self, name: str) -> None:
        """Create the model's series at 0, so they are present before its first request."""
        self.batch_size.labels(name)
        self.batch_duration.labels(name)
        self.queue_wait.labels(name)
        self.queue_depth.labels(name).set(0)
        self.texts_scored.labels(name)
        self.model_ready.labels(name).set(0)

    # the batcher's hooks (sentiment.serving.batcher.DynamicBatcher)
    def observe_batch(self, model: str, texts: int, seconds: float,
                      waits: list[float], scored: int | None = None) -> None:
        """One model call over ``texts`` texts that took ``seconds``; ``waits``: the queue
        waits (seconds) of the requests or texts it started; ``scored``: the texts it
        finished (default ``texts``; a continuous batcher's chunk finishes only some)."""
        self.batch_size.labels(model).observe(texts)
        self.batch_duration.labels(model).observe(seconds)
        self.texts_scored.labels(model).inc(texts if scored is None else scored)
        wait = self.queue_wait.labels(model)
        for seconds_waited in waits:
            wait.observe(max(seconds_waited, 0.0))

    def set_queue_depth(self, model: str, texts: int) -> None:
        self.queue_depth.labels(model).set(texts)

    def render(self) -> bytes:
        """The metrics in Prometheus' text format (all workers' in multiprocess mode)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    def close(self) -> None:
        """At a worker's exit: drop its live gauges from the aggregate (multiprocess mode)."""
        if self.multiprocess and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
