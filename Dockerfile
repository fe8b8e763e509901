# One image for every Watershed service.
#
#   docker build -t watershed .
#   docker run --rm watershed                          # CLI help
#   docker run --rm watershed watershed migrate        # apply SQL migrations
#   docker run --rm watershed python -m services.collector
#
# The orchestrator (compose, Kubernetes) picks the service with the command and
# probes its HTTP endpoints (/healthz, /readyz), so the image has no HEALTHCHECK.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the distribution into a virtualenv, no dev/test extras ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/watershed
WORKDIR /src
COPY . .
RUN /opt/watershed/bin/pip install --no-cache-dir .

# --- runtime ---
FROM ${PYTHON_IMAGE}
# git: the facade clones and reads repositories; tini: PID 1 that forwards
# SIGTERM to the service and reaps git's orphaned children.
# Unpinned on purpose: the base image's Debian release fixes the versions and
# rebuilding picks up its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tini ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ARG UID=10001
RUN groupadd --system --gid ${UID} watershed \
    && useradd --system --uid ${UID} --gid ${UID} --home-dir /var/lib/watershed --shell /usr/sbin/nologin watershed \
    && mkdir -p /var/lib/watershed/clones \
    && chown -R ${UID}:${UID} /var/lib/watershed

COPY --from=build /opt/watershed /opt/watershed

ENV PATH=/opt/watershed/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/watershed \
    WATERSHED_DATA_DIR=/var/lib/watershed \
    WATERSHED_CLONES_DIR=/var/lib/watershed/clones \
    WATERSHED_HTTP_HOST=0.0.0.0 \
    WATERSHED_HTTP_PORT=8080 \
    WATERSHED_LOG_FORMAT=json

USER ${UID}:${UID}
WORKDIR /var/lib/watershed
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["watershed", "--help"]
