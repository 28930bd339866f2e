"""The dynamic batcher with a fake predictor: batches of at most max_batch_size texts, at
most max_wait_ms of waiting, each request its own rows, a full queue refused, a failing
request alone failed, cancelled requests skipped. Every wait is bounded."""

import asyncio
import threading
import time

import numpy as np
import pytest
from serving_helpers import FakePredictor, fake_probability

from sentiment.serving.batcher import BatcherStopped, DynamicBatcher, QueueFull


def run(coroutine_function, predictor, **options):
    """Run ``coroutine_function(batcher)`` with a started batcher over ``predictor``, within
    20 seconds; stop the batcher afterwards."""
    async def main():
        batcher = DynamicBatcher(predictor.predict_proba, 2, **options)
        batcher.start()
        try:
            return await asyncio.wait_for(coroutine_function(batcher), 20)
        finally:
            await batcher.stop(timeout=5)

    return asyncio.run(main())


def expected_rows(texts):
    p = np.array([fake_probability(text) for text in texts], dtype=np.float32)
    return np.stack([1 - p, p], axis=1)


def test_concurrent_requests_are_batched_and_get_their_own_rows():
    predictor = FakePredictor()
    texts = [[f"text {i}" + "!" * (i % 7)] if i % 3 else [f"a{i}", "bb" * i, ""]
             for i in range(60)]

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(request) for request in texts))

    results = run(scenario, predictor, max_batch_size=16, max_wait_ms=20)
    for request, rows in zip(texts, results):
        np.testing.assert_array_equal(rows, expected_rows(request))
    sizes = [len(batch) for batch in predictor.batches]
    assert sum(sizes) == sum(map(len, texts)) and max(sizes) <= 16
    assert len(sizes) < len(texts) / 3  # requests shared batches


def test_a_large_request_is_split_across_batches():
    predictor = FakePredictor()
    request = [f"review number {i}" + "x" * i for i in range(40)]
    rows = run(lambda batcher: batcher.submit(request), predictor, max_batch_size=16,
               max_wait_ms=0)
    np.testing.assert_array_equal(rows, expected_rows(request))
    assert [len(batch) for batch in predictor.batches] == [16, 16, 8]
    assert run(lambda batcher: batcher.submit([]), predictor).shape == (0, 2)


def test_a_lone_request_waits_at_most_max_wait():
    for wait_ms in (0, 100):
        async def scenario(batcher):
            started = time.perf_counter()
            await batcher.submit(["alone"])
            return time.perf_counter() - started

        seconds = run(scenario, FakePredictor(), max_batch_size=64, max_wait_ms=wait_ms)
        assert wait_ms / 1000 * 0.9 <= seconds < wait_ms / 1000 + 2.0


def test_a_full_queue_refuses_without_losing_the_queued_requests():
    gate = threading.Event()
    predictor = FakePredictor(gate)

    async def scenario(batcher):
        first = asyncio.ensure_future(batcher.submit(["a", "bb", "ccc"]))
        for _ in range(200):  # the first batch is taken off the queue, held by the gate
            if batcher.queued == 0 and batcher._running:
                break
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.submit(["dddd"] * 4))
        await asyncio.sleep(0.01)
        assert batcher.queued == 4
        with pytest.raises(QueueFull, match="max-queue 5"):
            await batcher.submit(["e", "f"])
        gate.set()
        return await first, await second

    first, second = run(scenario, predictor, max_batch_size=8, max_wait_ms=0, max_queue=5)
    np.testing.assert_array_equal(first, expected_rows(["a", "bb", "ccc"]))
    np.testing.assert_array_equal(second, expected_rows(["dddd"] * 4))


def test_a_failing_request_does_not_fail_the_others_in_its_batch():
    predictor = FakePredictor()

    async def scenario(batcher):
        return await asyncio.gather(batcher.submit(["good one"]),
                                    batcher.submit(["x", "boom", "y"]),
                                    batcher.submit(["fine", "too"]), return_exceptions=True)

    good, bad, fine = run(scenario, predictor, max_batch_size=64, max_wait_ms=50)
    assert isinstance(bad, RuntimeError) and str(bad) == "boom"
    np.testing.assert_array_equal(good, expected_rows(["good one"]))
    np.testing.assert_array_equal(fine, expected_rows(["fine", "too"]))


def test_cancelled_requests_are_skipped_and_stop_refuses_new_ones():
    gate = threading.Event()
    predictor = FakePredictor(gate)

    async def scenario(batcher):
        first = asyncio.ensure_future(batcher.submit(["first"]))
        await asyncio.sleep(0.05)
        abandoned = asyncio.ensure_future(batcher.submit(["abandoned"]))
        kept = asyncio.ensure_future(batcher.submit(["kept"]))
        await asyncio.sleep(0.01)
        abandoned.cancel()
        gate.set()
        await first
        await kept
        await batcher.stop(timeout=5)
        with pytest.raises(BatcherStopped):
            await batcher.submit(["late"])

    run(scenario, predictor, max_batch_size=8, max_wait_ms=0)
    assert [text for batch in predictor.batches for text in batch] == ["first", "kept"]


def test_concurrent_batches_run_side_by_side_and_keep_their_rows():
    """With concurrent_batches=2, a second batch starts while the first is still running
    (the fake holds each call until two are inside at once), and every request still gets
    exactly its own rows."""
    inside, most = [0], [0]
    lock, both_inside = threading.Lock(), threading.Event()

    class Overlapping(FakePredictor):
        def predict_proba(self, texts, batch_size=256):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                if inside[0] == 2:
                    both_inside.set()
            try:
                both_inside.wait(5)  # bounded: the first batch waits for the second
                return super().predict_proba(texts, batch_size)
            finally:
                with lock:
                    inside[0] -= 1

    predictor = Overlapping()
    texts = [[f"text {i}", "x" * i] for i in range(24)]

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(request) for request in texts))

    started = time.monotonic()
    results = run(scenario, predictor, max_batch_size=8, max_wait_ms=1, concurrent_batches=2)
    assert time.monotonic() - started < 5  # never waited out the 5 s: the batches overlapped
    assert most[0] == 2 and both_inside.is_set()
    for request, rows in zip(texts, results):
        np.testing.assert_array_equal(rows, expected_rows(request))
    assert sum(map(len, predictor.batches)) == 48


def test_concurrent_batches_must_be_positive():
    with pytest.raises(ValueError, match="concurrent_batches must be an integer >= 1; received 0"):
        DynamicBatcher(FakePredictor().predict_proba, 2, concurrent_batches=0)
