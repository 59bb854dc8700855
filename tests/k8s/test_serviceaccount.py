"""k8s/: each track's pods run as their own ServiceAccount, which carries the store's pod identity (IRSA)."""

import re
from pathlib import Path

import pytest
import yaml

from modelops.adapters import kustomize

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = {"stable": REPO / "k8s/overlays/production", "canary": REPO / "k8s/overlays/canary"}
IRSA = "eks.amazonaws.com/role-arn"
ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:  # type: ignore[type-arg]
    return {track: kustomize.documents(kustomize.render(path)) for track, path in OVERLAYS.items()}


def one(docs: list[dict], kind: str) -> dict:  # type: ignore[type-arg]
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def test_each_tracks_deployment_runs_as_the_overlays_serviceaccount(rendered) -> None:  # type: ignore[no-untyped-def]
    names = {}
    for track, docs in rendered.items():
        account = one(docs, "ServiceAccount")
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"], track
        assert account["metadata"]["namespace"] == one(docs, "Deployment")["metadata"]["namespace"], track
        # No Kubernetes API token in the pod: IRSA's webhook mounts its own projected token.
        assert (
            pod["automountServiceAccountToken"] is False and account["automountServiceAccountToken"] is False
        )
        names[track] = account["metadata"]["name"]
    # Both overlays render into one namespace: distinct names, so neither overwrites the other's role.
    assert names["stable"] != names["canary"], names


def test_each_overlay_sets_an_irsa_role_on_its_serviceaccount(rendered) -> None:  # type: ignore[no-untyped-def]
    base = yaml.safe_load((REPO / "k8s/base/serviceaccount.yaml").read_text())
    assert IRSA not in (base["metadata"].get("annotations") or {}), "the role is per overlay, not in base"
    roles = {}
    for track, docs in rendered.items():
        annotations = one(docs, "ServiceAccount")["metadata"].get("annotations") or {}
        assert ROLE_ARN.match(annotations.get(IRSA, "")), f"{track}: {IRSA}={annotations.get(IRSA)!r}"
        roles[track] = annotations[IRSA]
    assert roles["stable"] != roles["canary"], roles


def test_no_credentials_reach_the_pod_from_git(rendered) -> None:  # type: ignore[no-untyped-def]
    for track, docs in rendered.items():
        container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        names = {e["name"] for e in container.get("env", [])}
        names |= {k for d in docs if d["kind"] in ("ConfigMap", "Secret") for k in d.get("data", {})}
        assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}, track
        assert not [d for d in docs if d["kind"] == "Secret"], track


def test_serviceaccount_validates_and_a_broken_one_is_rejected(rendered) -> None:  # type: ignore[no-untyped-def]
    for track, docs in rendered.items():
        account = one(docs, "ServiceAccount")
        assert kustomize.validate(yaml.safe_dump(account)) == [], track
    broken = {**account, "automountServiceAccountToken": "no"}
    assert any("automountServiceAccountToken" in p for p in kustomize.validate(yaml.safe_dump(broken)))
    wrong = {**account, "secrets": "modelops"}
    assert kustomize.validate(yaml.safe_dump(wrong)) != []
