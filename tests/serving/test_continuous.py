"""The continuous batcher with a real recurrent model (the tiny GRU ensemble): texts of
concurrent requests join the running batch and each request gets exactly the rows
``Predictor.predict_proba`` gives, a bad request fails alone, a full queue refuses, cancelled
requests are skipped, stopping finishes the texts in flight. Every wait is bounded."""

import asyncio
import threading

import numpy as np
import pytest

from sentiment.errors import DataError
from sentiment.serving.batcher import BatcherStopped, QueueFull
from sentiment.serving.continuous import ContinuousBatcher

LONG = " ".join(["the film was superb and moving", "boring plot , dull story"] * 40)


@pytest.fixture(scope="module")
def predictor(tiny_ensemble_dir):
    from sentiment.predictor import Predictor

    return Predictor.load(tiny_ensemble_dir)


@pytest.fixture(scope="module")
def stepper(predictor):
    stepper = predictor.stepper(chunk_steps=8)
    assert stepper is not None, "the GRU ensemble runs with continuous batching"
    stepper.warm_up()
    return stepper


def run(scenario, predictor, stepper, encode_ids=None, **options):
    """Run ``scenario(batcher)`` with a started batcher within 30 seconds, then stop it."""
    async def main():
        batcher = ContinuousBatcher(encode_ids or predictor.encode_ids, stepper,
                                    len(predictor.labels), **options)
        batcher.start()
        try:
            return await asyncio.wait_for(scenario(batcher), 30)
        finally:
            await batcher.stop(timeout=10)

    return asyncio.run(main())


def test_concurrent_requests_get_the_predictors_rows(predictor, stepper):
    words = LONG.split()
    requests = [[" ".join(words[: 1 + (7 * i) % len(words)])] if i % 4 else
                ["a wonderful film", "", " ".join(words[i:]), "awful"] for i in range(40)]
    seen = []

    async def scenario(batcher):
        async def client(index, texts):
            await asyncio.sleep(0.002 * (index % 10))  # arrivals spread over chunks
            return await batcher.submit(texts)

        async def watch():
            while True:
                seen.append(batcher.in_flight)
                await asyncio.sleep(0.001)

        watcher = asyncio.ensure_future(watch())
        try:
            return await asyncio.gather(*(client(i, t) for i, t in enumerate(requests)))
        finally:
            watcher.cancel()

    results = run(scenario, predictor, stepper, max_lanes=16)
    for texts, rows in zip(requests, results):
        np.testing.assert_allclose(rows, predictor.predict_proba(texts), atol=1e-6)
    assert max(seen) > 1  # texts were in flight together
    assert max(seen) <= 16  # never more lanes than max_lanes
    assert run(lambda batcher: batcher.submit([]), predictor, stepper).shape == (0, 2)


def test_a_bad_request_fails_alone(predictor, stepper):
    async def scenario(batcher):
        return await asyncio.gather(batcher.submit(["fine", "good film"]),
                                    batcher.submit(["ok", 7]), batcher.submit([LONG]),
                                    return_exceptions=True)

    good, bad, long = run(scenario, predictor, stepper)
    np.testing.assert_allclose(good, predictor.predict_proba(["fine", "good film"]), atol=1e-6)
    np.testing.assert_allclose(long, predictor.predict_proba([LONG]), atol=1e-6)
    assert isinstance(bad, DataError) and "texts[1] is int" in str(bad)


def test_a_full_queue_refuses_and_a_cancelled_request_is_skipped(predictor, stepper):
    gate = threading.Event()
    encoded = []

    def held_encode(texts):
        assert gate.wait(20)
        encoded.append(list(texts))
        return predictor.encode_ids(texts)

    async def scenario(batcher):
        first = asyncio.ensure_future(batcher.submit(["a", "bb", "ccc"]))
        cancelled = asyncio.ensure_future(batcher.submit(["gone"]))
        for _ in range(200):
            if batcher.queued == 4:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(QueueFull, match="--max-queue 5"):
            await batcher.submit(["d", "e"])
        cancelled.cancel()
        gate.set()
        rows = await first
        later = await batcher.submit(["after"])
        return rows, later

    rows, later = run(scenario, predictor, stepper, encode_ids=held_encode, max_queue=5)
    np.testing.assert_allclose(rows, predictor.predict_proba(["a", "bb", "ccc"]), atol=1e-6)
    np.testing.assert_allclose(later, predictor.predict_proba(["after"]), atol=1e-6)
    assert ["gone"] not in encoded  # the cancelled request was never encoded


def test_stop_finishes_the_texts_in_flight_then_refuses(predictor, stepper):
    async def main():
        batcher = ContinuousBatcher(predictor.encode_ids, stepper, 2)
        batcher.start()
        pending = asyncio.ensure_future(batcher.submit([LONG, "short"]))
        await asyncio.sleep(0)
        await asyncio.wait_for(batcher.stop(timeout=10), 20)
        with pytest.raises(BatcherStopped):
            await batcher.submit(["late"])
        return await asyncio.wait_for(pending, 5)

    rows = asyncio.run(main())
    np.testing.assert_allclose(rows, predictor.predict_proba([LONG, "short"]), atol=1e-6)


def test_a_bidirectional_model_has_no_stepper(tiny_predictor):
    assert tiny_predictor.stepper() is None


class SlowStepper:
    """The real stepper, 0.2 s per call, so a stop can time out with texts in flight."""

    def __init__(self, stepper):
        self.stepper, self.chunk_steps = stepper, stepper.chunk_steps

    def new_lanes(self, count):
        return self.stepper.new_lanes(count)

    def advance(self, *args):
        import time

        time.sleep(0.2)
        return self.stepper.advance(*args)


def test_a_stop_that_times_out_fails_the_texts_in_flight(predictor):
    predictor.encode_ids([LONG])  # the text pipeline's graph is traced on its first call
    stepper = predictor.stepper(chunk_steps=2)  # 64 tokens: at least 4 calls of 16 steps

    async def main():
        batcher = ContinuousBatcher(predictor.encode_ids, SlowStepper(stepper), 2)
        batcher.start()
        pending = asyncio.ensure_future(batcher.submit([LONG]))
        for _ in range(1000):  # until the text is in flight (10 s at most)
            if batcher.in_flight:
                break
            await asyncio.sleep(0.01)
        assert batcher.in_flight == 1
        await asyncio.wait_for(batcher.stop(timeout=0.05), 20)
        with pytest.raises(BatcherStopped):
            await asyncio.wait_for(pending, 5)

    asyncio.run(main())


def test_uncalibrated_probabilities_and_a_checked_chunk_size(predictor):
    from sentiment.calibration import apply_temperature
    from sentiment.predictor import Predictor

    plain = Predictor(predictor.model, predictor.encoder,
                      predictor.config.replace(temperature=1.0))
    warm = Predictor(predictor.model, predictor.encoder,
                     predictor.config.replace(temperature=2.0))
    texts = ["fine", LONG]
    np.testing.assert_allclose(warm.predict_proba(texts, calibrated=False),
                               plain.predict_proba(texts), atol=1e-7)
    np.testing.assert_allclose(warm.predict_proba(texts),
                               apply_temperature(plain.predict_proba(texts), 2.0), atol=1e-6)
    with pytest.raises(ValueError, match="chunk_steps must be an integer >= 1; received 0"):
        predictor.stepper(chunk_steps=0)
