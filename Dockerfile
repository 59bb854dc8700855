# syntax=docker/dockerfile:1
# Serving image for `modelops serve`. Multi-stage: wheels are installed into a venv in
# the builder; the final stage copies only that venv, so no pip cache, build tools or
# compilers ship. Base pinned by digest (a tag can move). To update it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # copy the index digest
FROM python:3.11-slim-bookworm@sha256:420310dd2ff7895895f0f1f9d15cae5a95dabceb8f1d6b9a23ef33c2c1c542c3 AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Locked dependencies first: this layer is reused until requirements.lock changes.
# The slim base has no compiler: binary packages come as manylinux wheels, and the few
# sdists in the lock are pure Python. (The lock includes dev tools; a serve-only lock
# would shrink the image.)
COPY requirements.lock ./
RUN /opt/venv/bin/pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps . && /opt/venv/bin/python -m compileall -q /opt/venv

FROM python:3.11-slim-bookworm@sha256:420310dd2ff7895895f0f1f9d15cae5a95dabceb8f1d6b9a23ef33c2c1c542c3
# Same uid/gid as the Deployment's securityContext (runAsUser 10001).
RUN groupadd --system --gid 10001 modelops \
 && useradd --system --uid 10001 --gid modelops --home-dir /app --no-create-home modelops
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root configs ./configs
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    PREDICTION_LOG=/var/log/modelops/predictions.jsonl \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
USER 10001:10001
EXPOSE 8080
CMD ["modelops", "serve"]
