"""The settings of a served application: batching, limits and API keys. Pure Python."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import default_inference_threads
from ..errors import ConfigError

#: ``--max-body-size`` default: 4 MiB, about 3,000 IMDB reviews of average length.
DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024
#: ``--batching`` choices.
BATCHING = ("auto", "continuous", "dynamic")


@dataclass(frozen=True)
class ServeSettings:
    """What :func:`sentiment.serving.app.create_app` needs besides the models.

    Attributes:
        max_batch_size: texts per batch the batcher hands to ``predict_proba``.
        max_wait_ms: how long the oldest queued text waits for others to join its batch.
        concurrent_batches: batches of one model run at once, each on its own thread
            (default :func:`sentiment.config.default_inference_threads`, one per core up to 4;
            dynamic batching only).
        batching: ``"auto"`` (continuous batching where the model allows it, else dynamic),
            ``"continuous"`` (required: a model that cannot fails to load) or ``"dynamic"``
            (:mod:`sentiment.serving.continuous`, :mod:`sentiment.serving.batcher`).
        chunk_steps: recurrent steps per call with continuous batching.
        max_queue: texts waiting in one model's queue; a request that would exceed it gets
            503 with ``Retry-After``; a request with more texts than this gets 413.
        max_body_size: request bodies over this many bytes get 413.
        api_keys: accepted ``Authorization: Bearer`` keys; empty: no authentication.
        max_explain_texts: texts per request with ``explain=true`` (integrated gradients cost
            ``steps`` model calls per text).
        max_explain_steps: the largest ``steps`` a client may ask for.
        retry_after_s: the ``Retry-After`` of 503 answers (queue full, model loading).
        multiprocess_metrics: aggregate the metrics of several worker processes
            (``--workers N``; needs ``PROMETHEUS_MULTIPROC_DIR``).
    """

    max_batch_size: int = 256
    max_wait_ms: float = 5.0
    concurrent_batches: int = dataclasses.field(default_factory=default_inference_threads)
    batching: str = "auto"
    chunk_steps: int = 64
    max_queue: int = 10_000
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    api_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    max_explain_texts: int = 32
    max_explain_steps: int = 500
    retry_after_s: int = 1
    multiprocess_metrics: bool = False

    def __post_init__(self):
        for name in ("max_batch_size", "concurrent_batches", "chunk_steps", "max_queue",
                     "max_body_size", "max_explain_texts", "max_explain_steps",
                     "retry_after_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1; received {value!r}")
        if not isinstance(self.max_wait_ms, (int, float)) or not 0 <= self.max_wait_ms <= 10_000:
            raise ConfigError(f"max_wait_ms must be between 0 and 10000; received "
                              f"{self.max_wait_ms!r}")
        if self.batching not in BATCHING:
            raise ConfigError(f"batching must be one of {', '.join(BATCHING)}; received "
                              f"{self.batching!r}")
        if not all(isinstance(key, str) and key for key in self.api_keys):
            raise ConfigError("api_keys must be non-empty strings")

    def to_public_dict(self) -> dict:
        """The settings without the API keys (for ``GET /v1/models``)."""
        data = dataclasses.asdict(self)
        del data["api_keys"]
        data["authentication"] = bool(self.api_keys)
        return data
