# vidgate in a container: the API (`vidgate serve --workers 0`) by default, a worker with
# `vidgate worker`. docker-compose.yml runs both with PostgreSQL and MinIO; docs/operations.md.

# Stage 1: the wheel, built as `python -m build` builds it anywhere.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.6"
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

# Stage 2: the wheel installed with its run-time extras; binary wheels only, so no compiler.
FROM python:3.11-slim AS runtime
# `--build-arg SPEECH=false`: an image with no eSpeak NG in it (GPL-3.0-or-later; docs/licences.md),
# where text to speak is refused and ambience and music still play.
ARG SPEECH=true
ARG EXTRAS=postgres,s3
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --only-binary :all: "$(ls /tmp/dist/vidgate-*.whl)[${EXTRAS}]" \
    && if [ "$SPEECH" = "false" ]; then pip uninstall --yes espeakng-loader; fi \
    && rm -rf /tmp/dist \
    && useradd --system --home-dir /var/lib/vidgate --create-home vidgate
USER vidgate
WORKDIR /var/lib/vidgate
ENV VIDGATE_DATA_DIR=/var/lib/vidgate \
    VIDGATE_HOST=0.0.0.0 \
    VIDGATE_PORT=8000 \
    VIDGATE_SPEECH=${SPEECH}
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["vidgate", "serve", "--workers", "0"]
