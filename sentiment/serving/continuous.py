"""Continuous batching: texts join and leave the model's running batch between chunks of
recurrent steps (:mod:`sentiment.models.streaming`).

    request 1: 1 text  --\\                       encoder thread            stepper thread
    request 2: 3 texts ----> queue (requests) --> token ids, per text --> lanes: each text in
    request 3: 1 text  --/                                                 flight advances
                                                                           chunk_steps tokens
                                                                           per call, leaves
                                                                           with its row when
                                                                           its last token is in

A :class:`~sentiment.serving.batcher.DynamicBatcher` batch runs for as many steps as its
longest text, so under many small requests of random lengths a short text waits for a long
one and most lanes of a step are padding. Here a text costs its own length and starts at the
next chunk, whatever else is in flight (while no text waits to join, a call runs on until the
first text in flight finishes, up to ``MAX_CHUNKS`` chunks, so a lone text costs about one
call). Only forward-only recurrent classifiers can run this
way (:meth:`sentiment.predictor.Predictor.stepper`); the app keeps the dynamic batcher for
the others.

The texts of a request are encoded together on the encoder thread (the tensorflow-text
graph, as ``Predictor.predict_proba`` runs it), so encoding overlaps the stepping on another
core. If encoding a group of requests fails, each request is encoded again on its own, so
only the request that fails gets the error. A request whose client went away (its future
cancelled) is skipped, and its texts in flight leave at the next chunk.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from .batcher import BatcherStopped, QueueFull, _Request

logger = logging.getLogger(__name__)

#: The most texts encoded in one call of the text pipeline.
ENCODE_GROUP = 1024
#: While no text waits to join, one call runs up to this many chunks of steps.
MAX_CHUNKS = 8


class ContinuousBatcher:
    """Runs the texts of concurrent requests through one model's stepper, each text joining
    the running batch as soon as it is encoded. The same interface as
    :class:`~sentiment.serving.batcher.DynamicBatcher`.

    Args:
        encode_ids: ``texts -> [(length,) int32 ids, ...]`` (``Predictor.encode_ids``); run
            on the encoder thread; raises ``DataError`` for a bad item.
        stepper: a :class:`sentiment.models.streaming.RecurrentStepper` of the same model.
        classes: the number of probabilities per text.
        max_lanes: the most texts in flight at once (``--max-batch-size``).
        max_queue: the most texts submitted and not yet in flight; :meth:`submit` raises
            :class:`QueueFull` beyond it.
        metrics: optional :class:`sentiment.serving.metrics.ServingMetrics`.
        name: the model's name in the metrics and the threads' names.
    """

    def __init__(self, encode_ids: Callable[[list[str]], list[np.ndarray]], stepper: Any,
                 classes: int, *, max_lanes: int = 256, max_queue: int = 10_000,
                 metrics: Any = None, name: str = "default"):
        if not isinstance(max_lanes, int) or max_lanes < 1:
            raise ValueError(f"max_lanes must be an integer >= 1; received {max_lanes!r}")
        self._encode_ids = encode_ids
        self.stepper = stepper
        self.classes = classes
        self.max_lanes = max_lanes
        self.max_queue = max_queue
        self.metrics = metrics
        self.name = name
        self._condition = threading.Condition()
        self._pending: collections.deque[_Request] = collections.deque()  # not encoded yet
        self._ready: collections.deque[tuple[_Request, int, np.ndarray]] = collections.deque()
        self._queued = 0  # texts submitted and not yet in flight
        self._in_flight = 0
        self._closed = False  # the threads stop
        self._stopping = False  # no new requests
        self._threads: list[threading.Thread] = []
        self._worker = ThreadPoolExecutor(max_workers=1,
                                          thread_name_prefix=f"sentiment-serve-{name}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # chunks run (for tests and logs)

    @property
    def queued(self) -> int:
        """Texts submitted and not yet in flight."""
        return self._queued

    @property
    def in_flight(self) -> int:
        """Texts in the running batch."""
        return self._in_flight

    def start(self) -> None:
        """Start the encoder and stepper threads; results go to the running event loop."""
        self._loop = asyncio.get_running_loop()
        for target, role in ((self._encode_loop, "encode"), (self._step_loop, "step")):
            thread = threading.Thread(target=target, daemon=True,
                                      name=f"sentiment-serve-{self.name}-{role}")
            thread.start()
            self._threads.append(thread)

    async def submit(self, texts: Sequence[str]) -> np.ndarray:
        """The probabilities of ``texts``: ``(len(texts), classes) float32``, input order.

        Raises:
            QueueFull: when taking the texts would put more than ``max_queue`` in the queue.
            BatcherStopped: when the batcher is stopping.
            Exception: whatever encoding these texts raised (``DataError`` for a bad item).
        """
        if self._stopping or not self._threads:
            raise BatcherStopped("the server is shutting down")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.classes), dtype=np.float32)
        request = _Request(texts, self.classes, self._loop.create_future(), time.perf_counter())
        with self._condition:
            if self._queued + len(texts) > self.max_queue:
                raise QueueFull(f"the queue of model {self.name!r} is full ({self._queued:,} "
                                f"texts waiting, --max-queue {self.max_queue:,})")
            self._pending.append(request)
            self._set_queued(self._queued + len(texts))
            self._condition.notify_all()
        return await request.future  # cancelled with the caller: its texts are skipped

    async def run_in_worker(self, function: Callable, *args, **kwargs):
        """Run ``function`` on a worker thread, beside the stepping (``Predictor.explain``)."""
        if self._stopping or not self._threads:
            raise BatcherStopped("the server is shutting down")
        return await self._loop.run_in_executor(self._worker,
                                                lambda: function(*args, **kwargs))

    async def stop(self, timeout: float = 30.0) -> None:
        """Take no new requests, finish the queued and in-flight texts (at most ``timeout``
        seconds), then stop the threads. Requests not finished by then get
        :class:`BatcherStopped`."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        while self._busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        loop = asyncio.get_running_loop()
        for thread in self._threads:
            await loop.run_in_executor(None, thread.join)
        stopped = BatcherStopped("the server is shutting down")
        for request in [*self._pending, *(item[0] for item in self._ready)]:
            if not request.future.done():
                request.future.set_exception(stopped)
        self._pending.clear()
        self._ready.clear()
        self._set_queued(0)
        await loop.run_in_executor(None, lambda: self._worker.shutdown(wait=True))

    def _busy(self) -> bool:
        with self._condition:
            return bool(self._queued or self._in_flight)

    # -- threads ---------------------------------------------------------------------------

    def _fail_all(self, error: BaseException, in_flight=()) -> None:
        """A thread died of ``error``: take no more requests and fail every one held."""
        self._stopping = True
        with self._condition:
            held = [*self._pending, *(item[0] for item in self._ready), *in_flight]
            self._pending.clear()
            self._ready.clear()
            self._set_queued(0)
            self._in_flight = 0
            self._closed = True
            self._condition.notify_all()
        for request in {id(request): request for request in held}.values():
            self._reject(request, error)

    def _set_queued(self, value: int) -> None:
        self._queued = value
        if self.metrics is not None:
            self.metrics.set_queue_depth(self.name, value)

    def _resolve(self, request: _Request) -> None:
        """From a thread: hand ``request.out`` to its future on the event loop."""
        def resolve():
            if not request.future.done():
                request.future.set_result(request.out)
        self._loop.call_soon_threadsafe(resolve)

    def _reject(self, request: _Request, error: BaseException) -> None:
        """From a thread: fail ``request``'s future on the event loop."""
        request.remaining = -1  # its rows still in flight are dropped
        def reject():
            if not request.future.done():
                request.future.set_exception(error)
        self._loop.call_soon_threadsafe(reject)

    def _encode_loop(self) -> None:
        """The encoder thread: requests from the queue -> ``(request, row, ids)`` ready."""
        try:
            self._encode_requests()
        except Exception as error:  # noqa: BLE001  never leave requests waiting forever
            logger.exception("the encoder thread of model %r failed", self.name)
            self._fail_all(BatcherStopped(f"model {self.name!r} stopped after an internal "
                                          f"error: {type(error).__name__}"))

    def _encode_requests(self) -> None:
        while True:
            group, texts = [], 0
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                while self._pending and (not group or texts < ENCODE_GROUP):
                    request = self._pending.popleft()
                    if request.future.done():  # its client went away
                        self._set_queued(self._queued - len(request.texts))
                        continue
                    group.append(request)
                    texts += len(request.texts)
            items = self._encode_group(group)
            with self._condition:
                self._ready.extend(items)
                self._condition.notify_all()

    def _encode_group(self, group: list[_Request]) -> list[tuple[_Request, int, np.ndarray]]:
        try:
            rows = self._encode_ids([text for request in group for text in request.texts])
        except Exception as error:  # noqa: BLE001  isolated below, request by request
            if len(group) == 1:
                self._fail_encoding(group[0], error)
                return []
            items = []
            for request in group:
                items += self._encode_group([request])
            return items
        items, offset = [], 0
        for request in group:
            items += [(request, index, rows[offset + index])
                      for index in range(len(request.texts))]
            offset += len(request.texts)
        return items

    def _fail_encoding(self, request: _Request, error: Exception) -> None:
        with self._condition:
            self._set_queued(self._queued - len(request.texts))
        self._reject(request, error)

    def _step_loop(self) -> None:
        """The stepper thread: admit ready texts into lanes, advance a chunk, hand out the
        rows of the texts that finished."""
        owners: list[tuple[_Request, int]] = []
        try:
            self._step(owners)
        except Exception as error:  # noqa: BLE001  never leave requests waiting forever
            logger.exception("the stepper thread of model %r failed", self.name)
            self._fail_all(BatcherStopped(f"model {self.name!r} stopped after an internal "
                                          f"error: {type(error).__name__}"),
                           [request for request, _ in owners])

    def _step(self, owners: list) -> None:
        """The stepper loop; ``owners`` (the lanes' ``(request, row)``) is kept up to date
        in place, so a failure can reach every request in flight."""
        stepper, chunk = self.stepper, self.stepper.chunk_steps
        lanes = stepper.new_lanes(0)
        ids: list[np.ndarray] = []
        position = np.zeros(0, np.int64)
        while True:
            with self._condition:
                while not self._ready and not owners and not self._closed:
                    self._condition.wait()
                if self._closed:  # stop() timed out: the texts in flight will not finish
                    stopped = BatcherStopped("the server is shutting down")
                    for request in {id(request): request for request, _ in owners}.values():
                        self._reject(request, stopped)
                    self._in_flight = 0
                    return
                admitted = []
                while self._ready and len(owners) + len(admitted) < self.max_lanes:
                    admitted.append(self._ready.popleft())
                self._in_flight = len(owners) + len(admitted)  # stop() waits for them
                self._set_queued(self._queued - len(admitted))
            started = time.perf_counter()
            admitted = [item for item in admitted if item[0].remaining > 0
                        and not item[0].future.done()]
            if admitted:
                lanes = lanes.extend(stepper.new_lanes(len(admitted)))
                owners += [(request, index) for request, index, _ in admitted]
                ids += [row for _, _, row in admitted]
                position = np.concatenate([position, np.zeros(len(admitted), np.int64)])
            live = np.array([request.remaining > 0 and not request.future.done()
                             for request, _ in owners], dtype=bool)
            if not live.all():  # failed or cancelled requests leave now
                lanes, position = lanes.keep(live), position[live]
                owners[:] = [owner for owner, keep in zip(owners, live) if keep]
                ids = [row for row, keep in zip(ids, live) if keep]
            self._in_flight = len(owners)
            if not owners:
                continue
            lengths = np.array([len(row) for row in ids], dtype=np.int32)
            span = chunk
            if not (self._ready or self._pending):
                # nobody waits to join: run on until the first text in flight finishes, at
                # most MAX_CHUNKS chunks (a lone text then costs one call, as in a batch)
                first = int((lengths - position).min())
                span = chunk * min(MAX_CHUNKS, -(-first // chunk))
            # (lanes, span) int32: each lane's next tokens, right-padded with 0
            tokens = np.zeros((len(owners), span), dtype=np.int32)
            for lane, (row, start) in enumerate(zip(ids, position)):
                piece = row[start:start + span]
                tokens[lane, :len(piece)] = piece
            steps = np.minimum(lengths - position, span).astype(np.int32)
            try:
                lanes, probabilities = stepper.advance(lanes, tokens, steps, lengths)
            except Exception as error:  # noqa: BLE001  every text in flight fails
                logger.exception("a chunk of model %r failed", self.name)
                for request in {id(request): request for request, _ in owners}.values():
                    self._reject(request, error)
                lanes, ids = stepper.new_lanes(0), []
                owners.clear()
                position = np.zeros(0, np.int64)
                self._in_flight = 0
                continue
            position = position + span
            finished = position >= lengths
            for lane in np.flatnonzero(finished):
                request, index = owners[lane]
                request.out[index] = probabilities[lane]
                request.remaining -= 1
                if request.remaining == 0:
                    self._resolve(request)
            self.batches += 1
            if self.metrics is not None:
                self.metrics.observe_batch(
                    self.name, len(owners), time.perf_counter() - started,
                    [started - request.arrived for request, _, _ in admitted],
                    scored=int(finished.sum()))
            if finished.any():
                keep = ~finished
                lanes, position = lanes.keep(keep), position[keep]
                owners[:] = [owner for owner, kept in zip(owners, keep) if kept]
                ids = [row for row, kept in zip(ids, keep) if kept]
            self._in_flight = len(owners)
