"""``sentiment serve``: serve models over HTTP, kept warm, with continuous or dynamic
batching."""

from __future__ import annotations

import click

from .options import CliError, enable_onednn, translate_errors


@click.command()
@click.option("--model", "models", multiple=True, metavar="[NAME=]DIR",
              help="A model directory to serve, as NAME=DIR (a bare DIR is named after its "
              "last component); repeat to serve several, the first is the default. Default: "
              "$SENTIMENT_MODEL_DIR or ~/.sentiment/models/default, named 'default'.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 (all interfaces) only with --api-key-file or "
              "behind a proxy that authenticates.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="TCP port.")
@click.option("--batching", type=click.Choice(["auto", "continuous", "dynamic"]),
              default="auto", show_default=True,
              help="continuous: texts join and leave the running batch between chunks of "
              "recurrent steps (forward-only LSTM/GRU models); dynamic: batches of waiting "
              "texts; auto: continuous where the model allows it.")
@click.option("--max-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Texts per model call formed from concurrent requests (with continuous "
              "batching: texts in flight at once).")
@click.option("--chunk-steps", type=click.IntRange(min=1), default=64, show_default=True,
              help="Recurrent steps per model call with continuous batching.")
@click.option("--max-wait-ms", type=click.FloatRange(0, 10_000), default=5.0,
              show_default=True,
              help="Dynamic batching: how long the oldest waiting text waits for more to "
              "fill its batch.")
@click.option("--concurrent-batches", type=click.IntRange(min=1), default=None,
              help="Dynamic batching: batches of one model run at once, each on its own "
              "thread  [default: one per core, at most 4].")
@click.option("--max-queue", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Texts waiting per model; beyond it requests get 503 with Retry-After.")
@click.option("--max-body-size", type=click.IntRange(min=1), default=4 * 1024 * 1024,
              show_default=True, help="Largest request body in bytes (larger: 413).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes sharing the port, each loading every model (metrics "
              "aggregated over them). One suits most CPUs: TensorFlow already uses every "
              "core.")
@click.option("--api-key-file", type=click.Path(dir_okay=False), default=None,
              help="File of accepted API keys, one per line: every route but /healthz then "
              "needs 'Authorization: Bearer KEY' (401 otherwise).")
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=30.0,
              show_default=True,
              help="On SIGTERM or Ctrl-C, seconds to finish the requests in flight.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info",
                                                "debug"]),
              default="info", show_default=True, help="Server log level.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log one line per request (method, path, status; never headers).")
@translate_errors
def serve(models, host, port, batching, max_batch_size, chunk_steps, max_wait_ms,
          concurrent_batches, max_queue,
          max_body_size, workers, api_key_file, graceful_timeout, log_level, access_log):
    """Serve models over HTTP with continuous or dynamic batching.

    \b
    Routes: POST /v1/predict {"texts": [...]} (or {"text": "..."}; ?explain=true,
    ?model=NAME), POST /v1/models/NAME:predict (TensorFlow Serving's REST body),
    GET /healthz, /readyz, /v1/models, /metrics (Prometheus).
    \b
      sentiment serve --model models/sst2
      curl -s localhost:8000/v1/predict -d '{"texts": ["what a wonderful film"]}'

    SIGTERM or Ctrl-C finishes the requests in flight, then exits with status 0.
    """
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise CliError(f"sentiment serve needs {error.name}: pip install 'sentiment[serve]'"
                       ) from None
    enable_onednn()  # before the server imports TensorFlow
    from ..paths import default_model_dir
    from ..serving.loading import ModelLoader, parse_model_specs, read_api_keys
    from ..serving.server import run_server
    from ..serving.settings import ServeSettings

    loaders = {name: ModelLoader(path)
               for name, path in parse_model_specs(models, default_model_dir())}
    for loader in loaders.values():  # fail before the server starts, without TensorFlow
        loader.check()
    settings = ServeSettings(
        batching=batching, chunk_steps=chunk_steps, max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms, max_queue=max_queue,
        **({"concurrent_batches": concurrent_batches} if concurrent_batches else {}),
        max_body_size=max_body_size,
        api_keys=read_api_keys(api_key_file) if api_key_file else ())
    failure = run_server(loaders, settings, host=host, port=port, workers=workers,
                         api_key_file=api_key_file, log_level=log_level,
                         access_log=access_log, graceful_timeout=graceful_timeout)
    if failure:
        raise CliError(failure)
