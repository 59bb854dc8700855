"""Import everything `modelops serve` imports, so the image build writes bytecode for exactly that.

The image's root filesystem is read-only at run time (no .pyc can be written there), and
compiling the whole venv would add ~100 MB; importing the server's modules once at build
time compiles only what is used. A module missed here is still imported, just compiled in
memory at start-up.
"""

import mlflow
import mlflow.artifacts  # noqa: F401
import pandas  # noqa: F401
import sklearn.compose
import sklearn.ensemble
import sklearn.pipeline
import sklearn.preprocessing  # noqa: F401
import skops.io  # noqa: F401
import uvicorn.lifespan.on
import uvicorn.loops.uvloop
import uvicorn.protocols.http.httptools_impl  # noqa: F401
from mlflow import MlflowClient  # noqa: F401

import modelops.adapters.tracking
import modelops.cli
import modelops.release.state
import modelops.serve.app
import modelops.serve.commands
import modelops.serve.runner  # noqa: F401
