"""Dynamic batching: many small concurrent requests, few large model calls.

    request 1: 1 text  --\
    request 2: 3 texts ----> queue (texts, FIFO) --> batch of <= max_batch_size texts
    request 3: 1 text  --/                          --> predict_proba on the worker thread
                                                    --> each request gets its own rows

The batcher runs on the event loop. When texts are waiting and one of its
``concurrent_batches`` worker threads is free, it collects up to ``max_batch_size`` of them,
waiting at most ``max_wait_ms`` after the oldest one arrived for more to join, then runs
``predict_proba`` on them on that thread (off the event loop, which goes on accepting
requests meanwhile). A recurrent model's loop keeps about one core busy, so batches side by
side use the other cores (docs/benchmarks/serving.md). ``Predictor.predict_proba`` sorts the
batch by token length itself. A request larger than the room left in a batch is split across
batches; its future is resolved when all its rows are in.

If a batch fails, each request in it is run again on its own, so only the request that
fails gets the error. A request whose client went away (its future cancelled) is skipped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The queue holds too many texts to take this request now (HTTP 503)."""


class BatcherStopped(Exception):
    """The batcher is shutting down and takes no new requests (HTTP 503)."""


class _Request:
    """One submitted request: its texts, its output rows, its future."""

    __slots__ = ("texts", "out", "future", "remaining", "arrived", "next")

    def __init__(self, texts: list[str], classes: int, future: asyncio.Future, arrived: float,
                 dtype=np.float32):
        self.texts = texts
        self.out = np.empty((len(texts), classes), dtype=dtype)
        self.future = future
        self.remaining = len(texts)
        self.arrived = arrived
        self.next = 0  # the first text not yet handed to a batch


class DynamicBatcher:
    """Batches the texts of concurrent requests for one model.

    Args:
        predict_proba: ``texts -> (len(texts), classes) float32`` rows in input order
            (``Predictor.predict_proba``); run on the batcher's worker threads, at most
            ``concurrent_batches`` calls at a time (it must be thread-safe, as
            ``Predictor.predict_proba`` is).
        classes: the number of columns ``predict_proba`` returns.
        dtype: the rows' dtype (float32 probabilities; float64 for a regression model's
            values, so that they reach the client as ``predict_values`` gives them).
        max_batch_size: texts per call.
        max_wait_ms: the longest the oldest queued text waits for a batch to fill.
        max_queue: the most texts waiting at once; :meth:`submit` raises :class:`QueueFull`
            beyond it.
        metrics: optional; receives ``observe_batch(model, texts, seconds, waits)`` and
            ``set_queue_depth(model, texts)`` (:class:`sentiment.serving.metrics.ServingMetrics`).
        name: the model's name in the metrics and the worker threads' name.
        concurrent_batches: batches run at once, each on its own worker thread, >= 1.
    """

    def __init__(self, predict_proba: Callable[[list[str]], np.ndarray], classes: int, *,
                 max_batch_size: int = 256, max_wait_ms: float = 5.0, max_queue: int = 10_000,
                 metrics: Any = None, name: str = "default", concurrent_batches: int = 1,
                 dtype=np.float32):
        if not isinstance(concurrent_batches, int) or concurrent_batches < 1:
            raise ValueError(f"concurrent_batches must be an integer >= 1; received "
                             f"{concurrent_batches!r}")
        self.concurrent_batches = concurrent_batches
        self._predict_proba = predict_proba
        self.classes = classes
        self.dtype = dtype
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.metrics = metrics
        self.name = name
        self._pending: collections.deque[_Request] = collections.deque()
        self._queued = 0
        self._executor = ThreadPoolExecutor(max_workers=concurrent_batches,
                                            thread_name_prefix=f"sentiment-serve-{name}")
        self._slots: asyncio.Semaphore | None = None  # free worker threads
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._running = 0  # batches on the worker threads
        self._batch_tasks: set[asyncio.Task] = set()
        self.batches = 0  # batches run (for tests and logs)

    @property
    def queued(self) -> int:
        """Texts waiting for a batch."""
        return self._queued

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self.concurrent_batches)
        self._task = self._loop.create_task(self._run(), name=f"batcher-{self.name}")

    async def submit(self, texts: Sequence[str]) -> np.ndarray:
        """The probabilities of ``texts``: ``(len(texts), classes)`` of ``dtype``, input
        order.

        Raises:
            QueueFull: when taking the texts would put more than ``max_queue`` in the queue.
            BatcherStopped: when the batcher is stopping.
            Exception: whatever ``predict_proba`` raised on these texts (alone).
        """
        if self._stopping or self._task is None:
            raise BatcherStopped("the server is shutting down")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.classes), dtype=self.dtype)
        if self._queued + len(texts) > self.max_queue:
            raise QueueFull(f"the queue of model {self.name!r} is full ({self._queued:,} texts "
                            f"waiting, --max-queue {self.max_queue:,})")
        request = _Request(texts, self.classes, self._loop.create_future(), time.perf_counter(),
                           self.dtype)
        self._pending.append(request)
        self._set_queued(self._queued + len(texts))
        self._wakeup.set()
        return await request.future  # cancelled with the caller: the batcher skips it

    async def run_in_worker(self, function: Callable, *args, **kwargs):
        """Run ``function`` on a worker thread, beside the batches (``Predictor.explain``)."""
        if self._stopping or self._task is None:
            raise BatcherStopped("the server is shutting down")
        return await self._loop.run_in_executor(
            self._executor, lambda: function(*args, **kwargs))

    async def stop(self, timeout: float = 30.0) -> None:
        """Take no new requests, finish the queued ones (at most ``timeout`` seconds), then
        stop the worker thread. Requests still queued after that get :class:`BatcherStopped`."""
        self._stopping = True
        if self._task is not None:
            deadline = time.monotonic() + timeout
            while (self._pending or self._running) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for request in self._pending:
            if not request.future.done():
                request.future.set_exception(BatcherStopped("the server is shutting down"))
        self._pending.clear()
        self._set_queued(0)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._executor.shutdown(wait=True))

    def _set_queued(self, value: int) -> None:
        self._queued = value
        if self.metrics is not None:
            self.metrics.set_queue_depth(self.name, value)

    def _drop_cancelled(self) -> None:
        while self._pending and self._pending[0].future.done():
            request = self._pending.popleft()
            self._set_queued(self._queued - (len(request.texts) - request.next))

    def _take(self) -> list[tuple[_Request, int, int]]:
        """Up to ``max_batch_size`` texts from the head of the queue: ``(request, start,
        end)`` slices, the last one possibly part of a request."""
        batch, room, taken = [], self.max_batch_size, 0
        while room and self._pending:
            request = self._pending[0]
            left = len(request.texts) - request.next
            if request.future.done():  # cancelled by its client, or failed in a batch
                self._pending.popleft()
                self._queued -= left
                continue
            take = min(room, left)
            batch.append((request, request.next, request.next + take))
            request.next += take
            room -= take
            taken += take
            if request.next == len(request.texts):
                self._pending.popleft()
        self._set_queued(self._queued - taken)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._slots.acquire()  # a free worker thread; texts queue up meanwhile
            released = False
            try:
                # wait for the batch to fill, at most max_wait after the oldest text arrived
                self._drop_cancelled()
                deadline = (self._pending[0].arrived + self.max_wait_s if self._pending
                            else time.perf_counter())
                while self._queued < self.max_batch_size and not self._stopping:
                    timeout = deadline - time.perf_counter()
                    if timeout <= 0:
                        break
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), timeout)
                    except asyncio.TimeoutError:
                        break
                batch = self._take()
                if batch:
                    self._running += 1
                    task = loop.create_task(self._run_batch_in_slot(loop, batch))
                    self._batch_tasks.add(task)
                    task.add_done_callback(self._batch_tasks.discard)
                    released = True  # the task releases the slot
            finally:
                if not released:
                    self._slots.release()

    async def _run_batch_in_slot(self, loop, batch) -> None:
        try:
            await self._run_batch(loop, batch)
        except Exception:  # noqa: BLE001  never lose the slot; requests got their errors
            logger.exception("batch of model %r failed", self.name)
        finally:
            self._running -= 1
            self._slots.release()

    async def _run_batch(self, loop, batch: list[tuple[_Request, int, int]]) -> None:
        texts = [text for request, start, end in batch for text in request.texts[start:end]]
        started = time.perf_counter()
        try:
            probabilities = await loop.run_in_executor(self._executor, self._predict_proba,
                                                       texts)
            probabilities = np.asarray(probabilities, dtype=self.dtype)
            if probabilities.shape != (len(texts), self.classes):
                raise RuntimeError(f"predict_proba returned shape {probabilities.shape} for "
                                   f"{len(texts)} texts")
        except Exception as error:  # noqa: BLE001  isolated below, request by request
            await self._run_separately(loop, batch, error)
            return
        self.batches += 1
        if self.metrics is not None:
            self.metrics.observe_batch(self.name, len(texts), time.perf_counter() - started,
                                       [started - request.arrived for request, _, _ in batch])
        offset = 0
        for request, start, end in batch:
            request.out[start:end] = probabilities[offset:offset + end - start]
            offset += end - start
            self._deliver(request, end - start)

    def _deliver(self, request: _Request, rows: int) -> None:
        request.remaining -= rows
        if request.remaining == 0 and not request.future.done():
            request.future.set_result(request.out)

    async def _run_separately(self, loop, batch, batch_error: Exception) -> None:
        """A failed batch: each request's slice again on its own, so the error reaches only
        the request that causes it."""
        if len({id(request) for request, _, _ in batch}) == 1:
            request = batch[0][0]
            if not request.future.done():
                request.future.set_exception(batch_error)
            return
        for request, start, end in batch:
            if request.future.done():
                continue
            started = time.perf_counter()
            try:
                rows = await loop.run_in_executor(self._executor, self._predict_proba,
                                                  request.texts[start:end])
            except Exception as error:  # noqa: BLE001  this request's own error
                if not request.future.done():
                    request.future.set_exception(error)
                continue
            self.batches += 1
            if self.metrics is not None:
                self.metrics.observe_batch(self.name, end - start,
                                           time.perf_counter() - started,
                                           [started - request.arrived])
            request.out[start:end] = rows
            self._deliver(request, end - start)
