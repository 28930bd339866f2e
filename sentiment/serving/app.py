"""The ASGI application of ``sentiment serve``: :func:`create_app`.

Routes (bodies and answers are JSON; errors are ``{"error": "message"}``):

========================================  ====================================================
``GET /healthz``                          the process is up (never needs an API key)
``GET /readyz``                           200 once every model is loaded and warmed up, else 503
``GET /v1/models``                        names, labels, configuration, library versions
``GET /v1/models/{name}``                 TensorFlow Serving's model status
``POST /v1/predict``                      ``{"texts": [...]}`` or ``{"text": "..."}`` ->
                                          ``Predictor.predict``'s dicts; ``?model=NAME``,
                                          ``?explain=true`` (``&method=&target=&steps=``);
                                          a model over sequences of vectors takes
                                          ``{"sequences": [...]}`` or ``{"sequence": [...]}``
                                          (:mod:`sentiment.serving.kinds`)
``POST /v1/models/{name}:predict``        TensorFlow Serving's REST ``predict``, the inputs
                                          and outputs of the model's ``sentiment export``
``GET /metrics``                          Prometheus (:mod:`sentiment.serving.metrics`)
========================================  ====================================================

Models load (or, given as :class:`~sentiment.predictor.Predictor` objects, warm up) in a
thread after the server has started, so ``/healthz`` answers at once and ``/readyz`` only
when a warm-up batch has run. Each model has a
:class:`~sentiment.serving.continuous.ContinuousBatcher` (forward-only recurrent models,
unless ``batching="dynamic"``) or a :class:`~sentiment.serving.batcher.DynamicBatcher`. Request bodies are only ever parsed as
JSON (:mod:`sentiment.serving.protocol`); nothing a client sends is evaluated or unpickled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib.metadata
import json
import logging
import os
import platform
import threading
import time
from typing import Any, Callable, Mapping

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..errors import ConfigError, DataError, SentimentError
from .batcher import BatcherStopped, DynamicBatcher, QueueFull
from .continuous import ContinuousBatcher
from .kinds import (
    checked_sequences,
    output_width,
    reads_sequences,
    row_function,
    row_dtype,
    tf_serving_body,
    tf_serving_outputs,
    warmup_inputs,
)
from .metrics import ServingMetrics
from .protocol import (
    RequestError,
    parse_json,
    parse_predict_body,
    parse_tf_serving_body,
    parse_tf_serving_sequences,
    read_body,
)
from .settings import ServeSettings

logger = logging.getLogger(__name__)

#: Routes that answer without an API key.
OPEN_PATHS = ("/healthz",)
#: Environment variable through which ``--workers N`` hands the models and settings to the
#: worker processes (:func:`app_from_environment`).
SPEC_ENV = "SENTIMENT_SERVE_SPEC"
#: Responses with more rows than this are built and encoded off the event loop.
LARGE_RESPONSE = 2000
_PACKAGES = ("sentiment", "tensorflow", "tensorflow-text", "keras", "numpy", "fastapi",
             "starlette", "uvicorn", "prometheus_client")


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8", errors="replace")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  body: bytes | None = None) -> Response:
    return Response(json_bytes(data) if body is None else body, status_code=status,
                    headers=headers, media_type="application/json")


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def server_versions() -> dict[str, str]:
    """Installed versions of the libraries the server runs on (read from package metadata,
    nothing imported)."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    versions["python"] = platform.python_version()
    return versions


def _in_daemon_thread(function: Callable[[], Any]) -> asyncio.Future:
    """Run ``function`` in a daemon thread (a model still loading never holds up the
    process's exit); its result as a future of the running loop."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(setter, value):
        if not future.done():
            setter(value)

    def target():
        try:
            result = function()
        except BaseException as error:  # noqa: BLE001  handed to the loop
            callback = (settle, future.set_exception, error)
        else:
            callback = (settle, future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(*callback)

    threading.Thread(target=target, name="sentiment-serve-load", daemon=True).start()
    return future


class ModelSlot:
    """One served model: its loader or predictor, its state and its batcher."""

    def __init__(self, name: str, source: Any):
        self.name = name
        if callable(source) and not hasattr(source, "predict_proba"):
            self.loader, self.predictor = source, None
        else:
            self.loader, self.predictor = None, source
        self.state = "loading"  # -> "ready" | "failed"
        self.error: str | None = None
        self.batcher: DynamicBatcher | ContinuousBatcher | None = None
        self.stepper = None  # set by load_and_warm_up for continuous batching
        self.warmup_seconds: float | None = None

    def metadata(self) -> dict[str, Any]:
        if self.loader is not None and hasattr(self.loader, "metadata"):
            return self.loader.metadata()
        predictor = self.predictor
        if predictor is None:
            return {}
        config = getattr(predictor, "config", None)
        return {"labels": list(predictor.labels),
                "task": getattr(predictor, "task", "classification"),
                "inputs": "sequences" if reads_sequences(predictor) else "texts",
                "config": config.to_dict() if hasattr(config, "to_dict") else {},
                "trained_with": {}}

    def load_and_warm_up(self, settings: ServeSettings):
        """In a thread: the predictor, loaded if needed, after one warm-up batch; with
        continuous batching (``settings.batching``) also its stepper (``self.stepper``),
        warmed up too.

        Raises:
            ConfigError: for ``batching="continuous"`` and a model that cannot run so.
        """
        predictor = self.predictor if self.predictor is not None else self.loader()
        started = time.perf_counter()
        inputs = warmup_inputs(predictor)
        rows = np.asarray(row_function(predictor)(inputs))
        if rows.shape != (len(inputs), output_width(predictor)):
            raise RuntimeError(f"the warm-up batch returned shape {rows.shape}")
        if settings.batching != "dynamic" and hasattr(predictor, "stepper"):
            self.stepper = predictor.stepper(settings.chunk_steps)
            if self.stepper is not None:
                self.stepper.warm_up()
        if settings.batching == "continuous" and self.stepper is None:
            raise ConfigError("--batching continuous needs a forward-only recurrent "
                              "single-label text classifier (lstm or gru, max, mean or last "
                              "pooling); this one is not: use --batching auto or dynamic")
        return predictor, time.perf_counter() - started


class ServingState:
    """The models of one app, their loading and their batchers (``app.state.serving``)."""

    def __init__(self, models: Mapping[str, Any], settings: ServeSettings,
                 metrics: ServingMetrics, on_fatal: Callable[[str], None] | None):
        if not models:
            raise ConfigError("create_app needs at least one model")
        self.slots = {name: ModelSlot(name, source) for name, source in models.items()}
        self.default = next(iter(self.slots))
        self.settings = settings
        self.metrics = metrics
        self.on_fatal = on_fatal
        self.failure: str | None = None
        self.started = time.time()
        self.versions = server_versions()
        self._task: asyncio.Task | None = None
        for name in self.slots:
            metrics.add_model(name)

    @property
    def ready(self) -> bool:
        return all(slot.state == "ready" for slot in self.slots.values())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._load_all(),
                                                            name="sentiment-serve-load")

    async def _load_all(self) -> None:
        settings = self.settings
        for slot in self.slots.values():
            started = time.perf_counter()
            try:
                predictor, warmup = await _in_daemon_thread(
                    lambda slot=slot: slot.load_and_warm_up(settings))
            except Exception as error:  # noqa: BLE001  reported, then the server stops
                message = (str(error) if isinstance(error, SentimentError)
                           else f"{type(error).__name__}: {error}")
                slot.state, slot.error = "failed", message
                self.failure = f"model {slot.name!r} could not be loaded: {message}"
                logger.error("%s", self.failure)
                if self.on_fatal is not None:
                    self.on_fatal(self.failure)
                return
            slot.predictor, slot.warmup_seconds = predictor, warmup
            if slot.stepper is not None:
                slot.batcher = ContinuousBatcher(
                    predictor.encode_ids, slot.stepper, len(predictor.labels),
                    max_lanes=settings.max_batch_size, max_queue=settings.max_queue,
                    metrics=self.metrics, name=slot.name)
            else:
                slot.batcher = DynamicBatcher(
                    row_function(predictor), output_width(predictor),
                    max_batch_size=settings.max_batch_size, max_wait_ms=settings.max_wait_ms,
                    max_queue=settings.max_queue, metrics=self.metrics, name=slot.name,
                    concurrent_batches=settings.concurrent_batches,
                    dtype=row_dtype(predictor))
            slot.batcher.start()
            slot.state = "ready"
            self.metrics.model_ready.labels(slot.name).set(1)
            logger.info("model %r ready (%s; loaded and warmed up in %.1f s)", slot.name,
                        ", ".join(predictor.labels), time.perf_counter() - started)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for slot in self.slots.values():
            if slot.batcher is not None:
                await slot.batcher.stop()
        self.metrics.close()

    def slot(self, name: str | None) -> ModelSlot:
        """The ready model ``name`` (default: the first).

        Raises:
            RequestError: 404 for an unknown model, 503 while it loads or if it failed.
        """
        name = self.default if name is None else name
        slot = self.slots.get(name)
        if slot is None:
            raise RequestError(404, f"unknown model {name!r}; this server has "
                                    f"{', '.join(map(repr, self.slots))}")
        if slot.state == "failed":
            raise RequestError(503, f"model {name!r} failed to load: {slot.error}")
        if slot.state != "ready":
            raise RequestError(503, f"model {name!r} is loading; retry shortly",
                               {"Retry-After": str(self.settings.retry_after_s)})
        return slot

    def check_count(self, texts: list, noun: str = "texts") -> None:
        """413 when one request holds more ``noun`` than ``--max-queue``."""
        if len(texts) > self.settings.max_queue:
            raise RequestError(413, f"{len(texts):,} {noun} in one request exceed the queue "
                                    f"size (--max-queue {self.settings.max_queue:,}); send "
                                    f"fewer {noun} per request")

    async def score(self, slot: ModelSlot, texts: list) -> np.ndarray:
        """``(len(texts), classes)`` probabilities (``(len(texts), 1)`` values for a
        regression model) through the model's batcher; ``texts`` are the model's inputs
        (strings, or ``(time, features)`` arrays for a model over sequences)."""
        try:
            return await slot.batcher.submit(texts)
        except QueueFull as error:
            raise RequestError(503, f"{error}; retry shortly",
                               {"Retry-After": str(self.settings.retry_after_s)}) from None
        except BatcherStopped as error:
            raise RequestError(503, str(error)) from None
        except DataError as error:
            raise RequestError(422, str(error)) from None
        except Exception:
            logger.exception("model %r failed on a request of %d texts", slot.name,
                             len(texts))
            raise RequestError(500, "the model failed on this request; see the server "
                                    "log") from None

    async def explain(self, slot: ModelSlot, texts: list[str], method: str,
                      target: str | None, steps: int) -> list[dict]:
        settings = self.settings
        if reads_sequences(slot.predictor) or getattr(slot.predictor, "task",
                                                      "classification") != "classification":
            raise RequestError(400, f"explain=true explains text classifiers; model "
                                    f"{slot.name!r} is not one")
        if len(texts) > settings.max_explain_texts:
            raise RequestError(413, f"explain=true takes at most {settings.max_explain_texts} "
                                    f"texts per request; received {len(texts)}")
        results = []
        for text in texts:
            try:
                results.append(await slot.batcher.run_in_worker(
                    slot.predictor.explain, text, method=method, target=target, steps=steps))
            except BatcherStopped as error:
                raise RequestError(503, str(error)) from None
            except ConfigError as error:
                raise RequestError(400, str(error)) from None
            except DataError as error:
                raise RequestError(422, str(error)) from None
            except Exception:
                logger.exception("explaining a text with model %r failed", slot.name)
                raise RequestError(500, "explaining this text failed; see the server "
                                        "log") from None
            self.metrics.texts_scored.labels(slot.name).inc()
        return results

    def describe(self, slot: ModelSlot) -> dict[str, Any]:
        metadata = slot.metadata()
        entry = {"name": slot.name, "default": slot.name == self.default,
                 "state": slot.state, "labels": metadata.get("labels", []),
                 "task": metadata.get("task", "classification"),
                 "inputs": metadata.get("inputs", "texts"),
                 "config": metadata.get("config", {}),
                 "trained_with": metadata.get("trained_with", {})}
        if slot.error:
            entry["error"] = slot.error
        if slot.warmup_seconds is not None:
            entry["warmup_seconds"] = round(slot.warmup_seconds, 3)
        if slot.batcher is not None:
            entry["batching"] = ("continuous" if isinstance(slot.batcher, ContinuousBatcher)
                                 else "dynamic")
        return entry


async def _body_json(request: Request, settings: ServeSettings) -> Any:
    body = await read_body(request.stream(), request.headers.get("content-length"),
                           settings.max_body_size)
    if len(body) > 256 * 1024:  # parse large bodies off the event loop
        return await asyncio.to_thread(parse_json, body)
    return parse_json(body)


async def _encoded(build: Callable[[], Any], rows: int) -> bytes:
    if rows > LARGE_RESPONSE:
        return await asyncio.to_thread(lambda: json_bytes(build()))
    return json_bytes(build())


def create_app(models: Mapping[str, Any], settings: ServeSettings | None = None, *,
               on_fatal: Callable[[str], None] | None = None) -> FastAPI:
    """The application serving ``models``.

    Args:
        models: name -> :class:`~sentiment.predictor.Predictor`, or a callable that loads one
            (:class:`~sentiment.serving.loading.ModelLoader`), in order: the first is the
            default model. Loading and a warm-up batch run in a thread once the server runs.
        settings: batching and limits (:class:`ServeSettings`; defaults when ``None``).
        on_fatal: called with a message when a model fails to load (the CLI stops the
            server then); otherwise ``/readyz`` reports the failure.
    """
    settings = settings or ServeSettings()
    metrics = ServingMetrics(multiprocess=settings.multiprocess_metrics)
    state = ServingState(models, settings, metrics, on_fatal)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="sentiment", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.serving = state

    @app.exception_handler(RequestError)
    async def request_error(request, error: RequestError):
        return error_response(error.status, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request, error: RequestValidationError):
        problems = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem.get("loc", ()) if part != "query")
            problems.append(f"query parameter {where}: {problem.get('msg', 'invalid')}")
        return error_response(400, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, error: StarletteHTTPException):
        message = {404: f"no route {request.method} {request.url.path}; the routes are "
                        "/healthz, /readyz, /metrics, /v1/models, /v1/predict, "
                        "/v1/models/NAME:predict",
                   405: f"method {request.method} is not allowed on {request.url.path}"
                   }.get(error.status_code, str(error.detail))
        return error_response(error.status_code, message, getattr(error, "headers", None))

    @app.get("/healthz")
    async def healthz():
        return json_response({"status": "ok"})

    @app.get("/readyz")
    async def readyz():
        models_state = {name: slot.state for name, slot in state.slots.items()}
        if state.ready:
            return json_response({"status": "ready", "models": models_state})
        status = "failed" if state.failure else "loading"
        body = {"status": status, "models": models_state}
        if state.failure:
            body["error"] = state.failure
        return json_response(body, 503, {"Retry-After": str(settings.retry_after_s)})

    @app.get("/v1/models")
    async def list_models():
        return json_response({"default": state.default,
                              "models": [state.describe(slot) for slot in state.slots.values()],
                              "server": {"versions": state.versions,
                                         "settings": settings.to_public_dict()}})

    @app.get("/v1/models/{name}")
    async def model_status(name: str):
        slot = state.slots.get(name)
        if slot is None:
            raise RequestError(404, f"unknown model {name!r}; this server has "
                                    f"{', '.join(map(repr, state.slots))}")
        tf_state = {"ready": "AVAILABLE", "loading": "LOADING", "failed": "END"}[slot.state]
        code = "UNKNOWN" if slot.state == "failed" else "OK"
        return json_response({"model_version_status": [
            {"version": "1", "state": tf_state,
             "status": {"error_code": code, "error_message": slot.error or ""}}]})

    @app.post("/v1/predict")
    async def predict(request: Request, model: str | None = None, explain: bool = False,
                      method: str = "auto", target: str | None = None,
                      steps: int = Query(50, ge=1)):
        if not explain:
            given = [name for name in ("method", "target", "steps")
                     if name in request.query_params]
            if given:
                raise RequestError(400, f"query parameter {given[0]} needs explain=true")
        elif steps > settings.max_explain_steps:
            raise RequestError(400, f"query parameter steps: at most "
                                    f"{settings.max_explain_steps}; received {steps}")
        slot = state.slot(model)
        sequences = reads_sequences(slot.predictor)
        texts, single = parse_predict_body(await _body_json(request, settings),
                                           "sequences" if sequences else "texts")
        state.check_count(texts, "sequences" if sequences else "texts")
        if sequences:  # numbers -> arrays off the event loop; 422 naming a bad one
            texts = await asyncio.to_thread(checked_sequences, slot.predictor, texts,
                                            "sequence" if single else "sequences", single)
        if explain:
            results = await state.explain(slot, texts, method, target, steps)
        else:
            rows = await state.score(slot, texts)
            postprocess = slot.predictor.postprocess
            if single:
                return json_response({"model": slot.name, "prediction": postprocess(rows[0])})
            return json_response(None, body=await _encoded(
                lambda: {"model": slot.name, "predictions": [postprocess(row) for row in rows]},
                len(texts)))
        if single:
            return json_response({"model": slot.name, "prediction": results[0]})
        return json_response({"model": slot.name, "predictions": results})

    @app.post("/v1/models/{name}:predict")
    async def tf_serving_predict(name: str, request: Request):
        slot = state.slot(name)
        payload = await _body_json(request, settings)
        if reads_sequences(slot.predictor):
            texts, columnar = parse_tf_serving_sequences(payload)
            state.check_count(texts, "sequences")
            texts = await asyncio.to_thread(checked_sequences, slot.predictor, texts,
                                            "inputs.values" if columnar else "instances")
        else:
            texts, columnar = parse_tf_serving_body(payload)
            state.check_count(texts)
        rows = await state.score(slot, texts)

        def build():  # the outputs of `sentiment export`'s signature, by name
            return tf_serving_body(tf_serving_outputs(slot.predictor, rows), columnar)

        return json_response(None, body=await _encoded(build, len(texts)))

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(metrics.render(), media_type=metrics.content_type)

    if settings.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router.routes)
    return app


class MetricsMiddleware:
    """Counts, times and tracks every HTTP request by route template (pure ASGI)."""

    def __init__(self, app, metrics: ServingMetrics, routes):
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self._templates: dict[tuple[str, str], str] = {}

    def route(self, scope) -> str:
        key = (scope["method"], scope["path"])
        template = self._templates.get(key)
        if template is None:
            template = "unmatched"
            for route in self.routes:  # the full match, else the first path-only match
                match, _ = route.matches(scope)
                if match is Match.FULL:
                    template = route.path
                    break
                if match is Match.PARTIAL and template == "unmatched":
                    template = route.path
            if template != "unmatched" and len(self._templates) < 4096:
                self._templates[key] = template
        return template

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = self.route(scope)
        status = 500
        in_flight = self.metrics.in_flight.labels(route)
        in_flight.inc()
        started = time.perf_counter()

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            in_flight.dec()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()


class ApiKeyMiddleware:
    """Requires ``Authorization: Bearer KEY`` on every route but :data:`OPEN_PATHS` (pure
    ASGI, before the body is read). Keys are compared as SHA-256 digests with
    :func:`hmac.compare_digest` against every accepted key, so the time taken tells neither
    the key's length nor which key matched; they are never logged."""

    def __init__(self, app, keys: tuple[str, ...]):
        self.app = app
        self._digests = [hashlib.sha256(key.encode("utf-8")).digest() for key in keys]

    def authorized(self, scope) -> bool:
        value = b""
        for header, header_value in scope.get("headers", ()):
            if header == b"authorization":
                value = header_value
                break
        scheme, _, token = value.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            return False
        digest = hashlib.sha256(token).digest()
        valid = False
        for expected in self._digests:
            valid |= hmac.compare_digest(digest, expected)
        return valid

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self.authorized(scope):
            return await self.app(scope, receive, send)
        body = json_bytes({"error": "missing or invalid API key: send the header "
                                    "'Authorization: Bearer KEY'"})
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Bearer realm="sentiment"')]})
        await send({"type": "http.response.body", "body": body})


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``sentiment serve --workers N`` (a uvicorn factory):
    the models and settings come from ``$SENTIMENT_SERVE_SPEC``, the API keys from their file
    (read again here, never passed through the environment). A model that fails to load
    ends the worker with uvicorn's start-up failure status, which stops the server."""
    from .loading import ModelLoader, read_api_keys

    spec = json.loads(os.environ[SPEC_ENV])
    settings = dict(spec["settings"])
    if spec.get("api_key_file"):
        settings["api_keys"] = read_api_keys(spec["api_key_file"])
    loaders = {}
    for name, path in spec["models"]:
        loaders[name] = ModelLoader(path)
        loaders[name].check()

    def stop_worker(message: str) -> None:
        from uvicorn.config import STARTUP_FAILURE

        logging.shutdown()
        os._exit(STARTUP_FAILURE)

    return create_app(loaders, ServeSettings(**settings), on_fatal=stop_worker)
