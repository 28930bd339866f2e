"""``sentiment serve``: an HTTP server that keeps models warm and batches requests.

    client requests (JSON)  ->  app (FastAPI routes, API keys, limits, metrics)
                            ->  one DynamicBatcher per model (queue, batches of texts)
                            ->  Predictor.predict_proba on a worker thread  ->  rows back

* :mod:`.settings`: :class:`ServeSettings` (limits and batching), pure Python;
* :mod:`.protocol`: reading and checking request bodies (ours and TensorFlow Serving's);
* :mod:`.batcher`: :class:`DynamicBatcher`;
* :mod:`.metrics`: Prometheus collectors on a private registry per app;
* :mod:`.loading`: ``NAME=DIR`` model specifications, checks before start-up, loading in
  Keras' safe mode, API key files;
* :mod:`.app`: :func:`create_app`, the ASGI application;
* :mod:`.server`: running it under uvicorn (graceful SIGTERM/Ctrl-C, ``--workers``).

Nothing here is imported by ``sentiment --help``: the CLI imports this package inside the
``serve`` command only. It needs the ``serve`` extra (``pip install 'sentiment[serve]'``:
fastapi, uvicorn, prometheus_client).
"""
