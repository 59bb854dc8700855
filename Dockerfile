# syntax=docker/dockerfile:1
# Serving image for `modelops serve`: the serve-only lock (requirements-serve.lock, no
# training, DVC or dev tools) in a venv, then the project in its own small layer. Build with
# `make image` (buildah; see README "Serving image").
#
# BASE defaults to the slim image pinned by digest (a tag can move). To update it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # copy the index digest
# Without a registry, `make image IMAGE_BASE=debian-local` passes a bookworm base made
# locally by mmdebstrap (python3 3.11, as in the slim image).
ARG BASE=python:3.11-slim-bookworm@sha256:420310dd2ff7895895f0f1f9d15cae5a95dabceb8f1d6b9a23ef33c2c1c542c3

# Stage deps: the locked, hash-checked dependencies, trimmed, in one layer that changes only
# when the lock (or the trim script) does. Binary packages come as manylinux wheels; the one
# build tool used (binutils' strip) is installed and purged within that same step.
FROM ${BASE} AS deps
COPY requirements-serve.lock docker/serve-venv.sh /tmp/build/
RUN sh /tmp/build/serve-venv.sh /tmp/build/requirements-serve.lock && rm -rf /tmp/build
# The runtime settings live here too, so they are cached with the venv: under vfs (buildah
# without overlayfs) every step after a cache miss stores a full copy of the tree.
# Same uid/gid as the Deployment's securityContext (runAsUser 10001).
RUN groupadd --system --gid 10001 modelops \
 && useradd --system --uid 10001 --gid modelops --home-dir /app --no-create-home modelops \
 && mkdir -p /var/log/modelops && chown 10001:10001 /var/log/modelops
WORKDIR /app
# The only writable paths are /tmp (model download, store spool) and /var/log/modelops
# (prediction log): the Deployment mounts emptyDirs there and sets readOnlyRootFilesystem.
# No bytecode is shipped (49 MB for the modules the server imports, which kept the image over
# 500 MB); the server compiles them in memory at start (~3 s of CPU, README "Serving image").
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    PREDICTION_LOG=/var/log/modelops/predictions.jsonl \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false

# Stage app: the project itself, installed with --no-deps under /stage (its package directories,
# dist-info and the `modelops` script, a few hundred kB) by a throw-away venv at the same path.
FROM ${BASE} AS app
WORKDIR /src
COPY pyproject.toml ./
COPY src ./src
# pyproject.toml names README.md as the long description; a stub keeps README edits out.
RUN echo "modelops serving image" > README.md \
 && python3 -m venv /opt/venv \
 && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 /opt/venv/bin/pip install -q --no-deps --no-compile --root /stage .

# The final stage builds FROM deps instead of copying its venv: buildah does not reuse a cached
# `COPY --from` step, so a copy would rewrite the ~360 MB venv on every build. Only the small
# layers below follow a change in configs/ or src/.
FROM deps
EXPOSE 8080
COPY --chown=root:root configs ./configs
COPY --from=app /stage/ /
USER 10001:10001
CMD ["modelops", "serve"]
