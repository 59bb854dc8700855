"""No phoning home at run time: the environment that switches off MLflow's and DVC's network calls.

MLflow 3 starts a telemetry client on `import mlflow` (mlflow/telemetry: it fetches a config
from mlflow.org and posts usage records) unless MLFLOW_DISABLE_TELEMETRY or DO_NOT_TRACK is
set. DVC's analytics and update check are off in .dvc/config (core.analytics, core.check_update);
DVC_NO_ANALYTICS covers a DVC run outside this repository's config. The Makefile exports the same
names, and the CLI sets them (without overriding an explicit value) before anything imports MLflow.
"""

import os
from collections.abc import MutableMapping

OFFLINE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "true",
}


def disable_telemetry(env: MutableMapping[str, str] = os.environ) -> None:
    """Set every OFFLINE_ENV name that the caller has not set itself."""
    for name, value in OFFLINE_ENV.items():
        env.setdefault(name, value)
