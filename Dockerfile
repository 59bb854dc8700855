# syntax=docker/dockerfile:1
# Serving image for `modelops serve`: the serve-only lock (requirements-serve.lock, no
# training, DVC or dev tools), installed into a venv in a builder stage; the final stage copies
# that venv, then the project in its own small layer. Build with `make image` (buildah; see
# README "Serving image").
#
# BASE defaults to the slim image pinned by digest (a tag can move). To update it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # copy the index digest
# Without a registry, `make image IMAGE_BASE=debian-local` passes a bookworm base made
# locally by mmdebstrap (python3 3.11, as in the slim image).
ARG BASE=python:3.11-slim-bookworm@sha256:420310dd2ff7895895f0f1f9d15cae5a95dabceb8f1d6b9a23ef33c2c1c542c3

# Stage deps: the locked, hash-checked dependencies and nothing of the project, so this stage
# (and the big layer the final stage copies from it) changes only when the lock changes.
# Binary packages come as manylinux wheels; no compiler is needed.
FROM ${BASE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY requirements-serve.lock /src/
# Trim what a server never runs: the libraries' own test suites, and botocore's models of every
# AWS service but S3 (the prediction store) and STS/SSO (pod identity): ~80 MB of JSON.
RUN /opt/venv/bin/pip install --no-deps --require-hashes --no-compile -r /src/requirements-serve.lock \
 && find /opt/venv/lib/python3.11/site-packages -depth -type d -name tests -path '*/site-packages/*/tests' \
         -not -path '*/site-packages/*/*/*/tests' -exec rm -rf {} + \
 && find /opt/venv/lib/python3.11/site-packages/botocore/data -mindepth 1 -maxdepth 1 -type d \
         ! -name s3 ! -name sts ! -name sso ! -name sso-oidc -exec rm -rf {} +

# Stage app: the project itself, installed with --no-deps under /stage (its package directories,
# dist-info and the `modelops` script, a few hundred kB). A change in src/ rebuilds only this.
FROM deps AS app
WORKDIR /src
COPY pyproject.toml ./
COPY src ./src
# pyproject.toml names README.md as the long description; a stub keeps README edits out.
RUN echo "modelops serving image" > README.md \
 && /opt/venv/bin/pip install --no-deps --no-compile --root /stage .

# Stage runtime-deps: the dependencies without the installers (pip, setuptools).
FROM deps AS runtime-deps
RUN rm -rf /opt/venv/lib/python3.11/site-packages/pip /opt/venv/lib/python3.11/site-packages/pip-* \
           /opt/venv/lib/python3.11/site-packages/setuptools* /opt/venv/lib/python3.11/site-packages/pkg_resources \
           /opt/venv/lib/python3.11/site-packages/_distutils_hack \
           /opt/venv/lib/python3.11/site-packages/distutils-precedence.pth /opt/venv/bin/pip*

FROM ${BASE}
# Same uid/gid as the Deployment's securityContext (runAsUser 10001).
RUN groupadd --system --gid 10001 modelops \
 && useradd --system --uid 10001 --gid modelops --home-dir /app --no-create-home modelops \
 && mkdir -p /var/log/modelops && chown 10001:10001 /var/log/modelops
# Two layers: the dependencies (~450 MB, reused until the lock changes), then the project.
COPY --from=runtime-deps /opt/venv /opt/venv
COPY --from=app /stage/ /
# Bytecode only for the modules the server imports (modelops.serve.warm), not all of the venv:
# ~30 MB instead of ~100 MB, the same start-up time. This small layer follows src/ changes.
RUN /opt/venv/bin/python -c "import modelops.serve.warm"
WORKDIR /app
COPY --chown=root:root configs ./configs
# The only writable paths are /tmp (model download) and /var/log/modelops (prediction
# log): the Deployment mounts emptyDirs there and sets readOnlyRootFilesystem.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    PREDICTION_LOG=/var/log/modelops/predictions.jsonl \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
USER 10001:10001
EXPOSE 8080
CMD ["modelops", "serve"]
