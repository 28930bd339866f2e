"""Running the app under uvicorn: one process, or ``--workers N`` processes on one socket.

SIGTERM or Ctrl-C (SIGINT): the listening socket is closed, the requests in flight are
finished (their batches included), then the process exits with status 0. A second signal
forces the exit. ``--graceful-timeout`` bounds the wait for requests in flight.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Mapping

import uvicorn
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE

from .loading import ModelLoader
from .settings import ServeSettings

logger = logging.getLogger("sentiment.serving")

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class GracefulServer(uvicorn.Server):
    """``uvicorn.Server`` whose SIGTERM and SIGINT end the process normally (status 0) once
    the requests in flight are answered; uvicorn itself raises the signal again after its
    shutdown, which would end the process with status 143 (SIGTERM) instead."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(sig, frame):
            if self.should_exit:
                self.force_exit = True
                return
            self.should_exit = True
            logger.info("received %s: finishing the requests in flight, then exiting",
                        signal.Signals(sig).name)

        original = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def log_config(level: str) -> dict:
    """uvicorn's logging configuration with the ``sentiment`` loggers on its handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sentiment"] = {"handlers": ["default"], "level": level.upper(),
                                      "propagate": False}
    return config


def server_config(app, *, host: str, port: int, log_level: str, access_log: bool,
                  graceful_timeout: float, **options) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level,
                          access_log=access_log, log_config=log_config(log_level),
                          timeout_graceful_shutdown=graceful_timeout, lifespan="on",
                          server_header=False, **options)


def run_server(models: Mapping[str, ModelLoader], settings: ServeSettings, *,
               host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               api_key_file: str | None = None, log_level: str = "info",
               access_log: bool = True, graceful_timeout: float = 30.0) -> str | None:
    """Serve ``models`` (name -> loader, checked beforehand with
    :meth:`~sentiment.serving.loading.ModelLoader.check`; the first is the default) until
    SIGTERM or Ctrl-C.

    Returns:
        ``None`` after a normal shutdown, or the message of a model that failed to load
        (the server then stops by itself).
    """
    options = dict(host=host, port=port, log_level=log_level, access_log=access_log,
                   graceful_timeout=graceful_timeout)
    if workers == 1:
        from .app import create_app

        failures: list[str] = []
        server: GracefulServer | None = None

        def stop(message: str) -> None:
            failures.append(message)
            server.should_exit = True

        app = create_app(dict(models), settings, on_fatal=stop)
        server = GracefulServer(server_config(app, **options))  # configures logging
        _warn_if_open(host, port, settings)
        logger.info("serving %s on http://%s:%d", ", ".join(models),
                    host, port)
        server.run()
        return failures[0] if failures else None
    return _run_workers(models, settings, workers, api_key_file, options)


def _warn_if_open(host: str, port: int, settings: ServeSettings) -> None:
    if host not in LOOPBACK_HOSTS and not settings.api_keys:
        logger.warning("serving on %s without --api-key-file: anyone who can reach port %d "
                       "can use it", host, port)


def _run_workers(models, settings: ServeSettings, workers: int, api_key_file: str | None,
                 options: dict) -> str | None:
    """``workers`` processes, each loading every model, sharing one listening socket
    (uvicorn's supervisor); metrics are aggregated through ``PROMETHEUS_MULTIPROC_DIR``."""
    from uvicorn.supervisors import Multiprocess

    from .app import SPEC_ENV

    public = asdict(settings)
    public.pop("api_keys")  # workers read the key file themselves
    public["multiprocess_metrics"] = True
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="sentiment-serve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    os.environ[SPEC_ENV] = json.dumps({
        "models": [[name, str(loader.path.resolve())] for name, loader in models.items()],
        "settings": public,
        "api_key_file": str(Path(api_key_file).expanduser().resolve()) if api_key_file
        else None})
    try:
        config = server_config("sentiment.serving.app:app_from_environment", factory=True,
                               workers=workers, **options)  # configures logging
        _warn_if_open(options["host"], options["port"], settings)
        logger.info("serving %s on http://%s:%d with %d worker processes",
                    ", ".join(models), options["host"], options["port"],
                    workers)
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
        if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
            return "a worker process failed to start (see the log above)"
        return None
    finally:
        os.environ.pop(SPEC_ENV, None)
        if own_dir is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(own_dir, ignore_errors=True)

