#!/usr/bin/env python
"""Benchmark ``sentiment serve``: texts/s and latency under concurrent clients, against
``Predictor.predict_proba`` on the same texts offline.

Serves the model (``--model``, default ``$SENTIMENT_MODEL_DIR`` or
``~/.sentiment/models/default``) with ``sentiment serve`` on 127.0.0.1 and sends IMDB test
reviews (``--data``, default ``$SENTIMENT_DATA_DIR/imdb/test.parquet`` or ``../shared/data``
beside the project) from 1, 8, 32 and 128 concurrent clients, one text per request, then from
32 clients with 64 texts per request, then from 32 clients sending the same 3-word text
(the request path alone: HTTP, JSON, encoding, three recurrent steps). Each row sends
``--requests`` texts (20,000 by default: 20,000 requests in a single-text row, 313 in the
64-text row). Per row it prints texts/s,
p50/p95/p99 latency, failed requests and the mean batch the server formed (from its
``/metrics``). Before the server starts, a child process measures ``predict_proba`` on the
same texts (model loaded and warmed up first).

    python scripts/benchmark_serving.py --model ~/.sentiment/models/default
    python scripts/benchmark_serving.py --batching dynamic --rows 32x1,128x1,32x1s

The clients are coroutines of this process, each with its own keep-alive connection (plain
HTTP/1.1 over asyncio streams, a few tens of microseconds of client CPU per request); they
run on the same CPU cores as the server. Only 127.0.0.1 is contacted. Latency counts from
writing the request to reading the last byte of the answer; a failed request is a connection
error, a timeout (``--timeout``), a status other than 200 or an answer without one
prediction per text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentiment.paths import default_model_dir

from _common import default_data  # scripts/_common.py: ../shared/data fallback

HOST = "127.0.0.1"
# (clients, texts per request, kind): IMDB reviews, or "short": the same 3-word text in every
# request, which measures the request path alone (HTTP, JSON, encoding, one model step)
ROWS = ((1, 1, "imdb"), (8, 1, "imdb"), (32, 1, "imdb"), (128, 1, "imdb"), (32, 64, "imdb"),
        (32, 1, "short"))
SHORT_TEXT = "a fine film"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def load_texts(path: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` IMDB test reviews in a seeded random order (cycled if more are asked)."""
    import pyarrow.parquet as pq

    texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(count)]


def child_offline(args) -> dict:
    """In a child process: ``predict_proba`` on the texts of ``args.texts_file``."""
    from sentiment.cli.options import quiet_tensorflow

    quiet_tensorflow()
    from sentiment.predictor import Predictor

    texts = json.loads(Path(args.texts_file).read_text(encoding="utf-8"))
    predictor = Predictor.load(args.model)
    predictor.predict_proba(texts[:256])  # warm up
    started = time.perf_counter()
    probabilities = predictor.predict_proba(texts)
    seconds = time.perf_counter() - started
    assert probabilities.shape[0] == len(texts)
    return {"texts": len(texts), "seconds": seconds, "texts_per_s": len(texts) / seconds}


def run_offline(model: Path, texts: list[str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8",
                                     delete=False) as handle:
        json.dump(texts, handle)
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child-offline", "--model", str(model),
             "--texts-file", handle.name], capture_output=True, text=True, timeout=3600,
            # oneDNN as `sentiment serve` (and every inference command) asks for it
            env={**os.environ, "TF_ENABLE_ONEDNN_OPTS":
                 os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")})
    finally:
        os.unlink(handle.name)
    if completed.returncode != 0:
        sys.exit(f"offline run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


async def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One ``GET`` on a fresh connection to 127.0.0.1."""
    async def get():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                         .encode())
            data = await reader.read()
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body

    return await asyncio.wait_for(get(), timeout)


def batch_totals(metrics: bytes, model: str) -> tuple[float, float]:
    """``(texts, batches)`` of ``sentiment_batch_size_texts`` for ``model``."""
    values = {}
    for line in metrics.decode().splitlines():
        for kind in ("sum", "count"):
            prefix = f'sentiment_batch_size_texts_{kind}{{model="{model}"}} '
            if line.startswith(prefix):
                values[kind] = float(line[len(prefix):])
    return values.get("sum", 0.0), values.get("count", 0.0)


class Connection:
    """A keep-alive HTTP/1.1 connection sending ``POST /v1/predict``."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(body) + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        answer = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_row(port: int, bodies: list[tuple[bytes, int]], clients: int,
                  timeout: float) -> dict:
    """Send ``bodies`` (``(body, texts)``) from ``clients`` concurrent connections."""
    next_request = iter(range(len(bodies)))
    latencies: list[float] = []
    failures = 0

    async def client():
        nonlocal failures
        connection = Connection(port)
        try:
            for index in next_request:
                body, texts = bodies[index]
                started = time.perf_counter()
                try:
                    status, answer = await asyncio.wait_for(connection.post(body), timeout)
                    ok = status == 200 and len(json.loads(answer)["predictions"]) == texts
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        ValueError, KeyError):
                    connection.close()
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()

    def percentile(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1)] * 1000

    texts = sum(texts for _, texts in bodies)
    return {"clients": clients, "texts_per_request": bodies[0][1], "requests": len(bodies),
            "texts": texts, "seconds": seconds, "texts_per_s": texts / seconds,
            "p50_ms": percentile(0.50), "p95_ms": percentile(0.95),
            "p99_ms": percentile(0.99), "failed": failures}


def make_bodies(texts: list[str], per_request: int) -> list[tuple[bytes, int]]:
    return [(json.dumps({"texts": texts[i:i + per_request]}).encode(),
             len(texts[i:i + per_request])) for i in range(0, len(texts), per_request)]


def wait_ready(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with status {process.returncode}")
        try:
            if asyncio.run(http_get(port, "/readyz"))[0] == 200:
                return
        except (OSError, asyncio.TimeoutError, IndexError, ValueError):
            pass
        time.sleep(0.25)
    sys.exit(f"the server was not ready after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--requests", type=int, default=20_000,
                        help="Texts sent per row (requests of a single-text row).")
    parser.add_argument("--max-batch-size", type=int, default=256)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--batching", choices=("auto", "continuous", "dynamic"), default=None,
                        help="Passed to sentiment serve (default: the server's own, auto).")
    parser.add_argument("--chunk-steps", type=int, default=None,
                        help="Passed to sentiment serve (default: the server's own).")
    parser.add_argument("--concurrent-batches", type=int, default=None,
                        help="Passed to sentiment serve (default: the server's own).")
    parser.add_argument("--rows", default=None,
                        help="Only these rows, as CLIENTSxTEXTS,... (e.g. 32x1,32x64).")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="Seconds before a request counts as failed.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    parser.add_argument("--child-offline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_offline:
        print(json.dumps(child_offline(args)))
        return
    if not (args.model / "model.keras").is_file():
        sys.exit(f"no model at {args.model}; train one (sentiment train) or pass --model DIR")
    if not args.data.is_file():
        sys.exit(f"no IMDB test file at {args.data}; set SENTIMENT_DATA_DIR or pass --data")

    texts = load_texts(args.data, args.requests)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")
    print(f"model: {args.model}; {len(texts):,} IMDB test reviews per row; server "
          f"--max-batch-size {args.max_batch_size} --max-wait-ms {args.max_wait_ms:g}"
          f"{(' --batching ' + args.batching) if args.batching else ''}"
          f"{(' --chunk-steps ' + str(args.chunk_steps)) if args.chunk_steps else ''}",
          flush=True)
    offline = run_offline(args.model, texts)
    print(f"offline Predictor.predict_proba: {offline['texts_per_s']:,.1f} texts/s "
          f"({offline['seconds']:.1f} s)", flush=True)

    port = free_port()
    command = [sys.executable, "-c", "from sentiment.cli import main; main()", "serve",
               "--model", f"default={args.model}", "--host", HOST, "--port", str(port),
               "--max-batch-size", str(args.max_batch_size),
               "--max-wait-ms", str(args.max_wait_ms), "--no-access-log",
               "--log-level", "warning"]
    for option in ("batching", "chunk_steps", "concurrent_batches"):
        if getattr(args, option):
            command += ["--" + option.replace("_", "-"), str(getattr(args, option))]
    rows = ROWS if not args.rows else tuple(
        (int(clients), int(texts.rstrip("s")), "short" if texts.endswith("s") else "imdb")
        for clients, _, texts in (row.partition("x") for row in args.rows.split(",")))
    server = subprocess.Popen(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    results = []
    try:
        wait_ready(port, server, timeout=300)
        asyncio.run(run_row(port, make_bodies(texts[:200], 1), 8, args.timeout))  # warm up
        print("\n| clients | texts/request | requests | texts/s | p50 ms | p95 ms | p99 ms "
              "| failed | mean batch |\n|---|---|---|---|---|---|---|---|---|", flush=True)
        for clients, per_request, kind in rows:
            sent = texts if kind == "imdb" else [SHORT_TEXT] * len(texts)
            before = batch_totals(asyncio.run(http_get(port, "/metrics"))[1], "default")
            row = asyncio.run(run_row(port, make_bodies(sent, per_request), clients,
                                      args.timeout))
            row["kind"] = kind
            after = batch_totals(asyncio.run(http_get(port, "/metrics"))[1], "default")
            row["mean_batch"] = ((after[0] - before[0]) / (after[1] - before[1])
                                 if after[1] > before[1] else float("nan"))
            results.append(row)
            print(f"| {clients} | {per_request}{' (3 words)' if kind == 'short' else ''} | "
                  f"{row['requests']:,} | "
                  f"{row['texts_per_s']:,.1f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                  f"{row['p99_ms']:.1f} | {row['failed']} | {row['mean_batch']:.1f} |",
                  flush=True)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"\nserver exit status after SIGTERM: {server.returncode}")
    at32 = next((row for row in results if row["clients"] == 32
                 and row["texts_per_request"] == 1 and row["kind"] == "imdb"), None)
    short = next((row for row in results if row["kind"] == "short"), None)
    if short is not None:
        print(f"request path alone (32 clients, one 3-word text each): "
              f"{short['texts_per_s'] / offline['texts_per_s']:.2f}x the offline texts/s")
    if at32 is None:
        return
    checks = {"no failed request": all(row["failed"] == 0 for row in results),
              "32 single-text clients >= half the offline texts/s":
                  at32["texts_per_s"] >= 0.5 * offline["texts_per_s"],
              "p99 < 250 ms at 32 single-text clients": at32["p99_ms"] < 250}
    print(f"32 single-text clients: {at32['texts_per_s'] / offline['texts_per_s']:.2f}x the "
          "offline texts/s")
    for name, passed in checks.items():
        print(f"{'met' if passed else 'NOT met'}: {name}")
    if args.json:
        args.json.write_text(json.dumps({"offline": offline, "rows": results,
                                         "checks": checks}, indent=2) + "\n")


if __name__ == "__main__":
    main()
