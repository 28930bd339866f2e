# sentiment serve in a container: the models are mounted read-only under /models.
#
#   docker build -t sentiment .
#   docker run --rm -p 8000:8000 -v ~/.sentiment/models/default:/models/default:ro sentiment
#   docker run --rm -p 8000:8000 -v "$PWD/models:/models:ro" -v "$PWD/keys.txt:/keys.txt:ro" \
#       sentiment --model imdb=/models/imdb --model sst2=/models/sst2 --api-key-file /keys.txt
#
# Arguments after the image name replace the default `--model /models/default`. Inside the
# container the server binds 0.0.0.0 (else the published port could not reach it): give it
# --api-key-file, or publish the port on a trusted network only. Not built in this project's
# CI (no Docker daemon there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
WORKDIR /opt/sentiment
COPY pyproject.toml setup.cfg README.md ./
COPY sentiment ./sentiment
RUN pip install --no-cache-dir ".[serve]" \
    && useradd --system --uid 10001 --no-create-home sentiment
USER sentiment

EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["sentiment", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--model", "/models/default"]
