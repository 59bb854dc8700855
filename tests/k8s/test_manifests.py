"""k8s/: overlays render and validate offline; alerts and dashboard use only exported metrics."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from modelops.adapters import kustomize

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = {"stable": REPO / "k8s/overlays/production", "canary": REPO / "k8s/overlays/canary"}
METRIC_ROW = re.compile(r"^\s+(modelops_\w+)\{[^}]*\}\s+(counter|gauge|histogram)", re.MULTILINE)
IDENT = re.compile(r"\bmodelops_\w+")


def exported_series() -> set[str]:
    """Series names the server exports, from the metric table in docs/INTERFACES.md."""
    table = METRIC_ROW.findall((REPO / "docs/INTERFACES.md").read_text())
    assert len(table) >= 5, "docs/INTERFACES.md metric table not found"
    names: set[str] = set()
    for name, kind in table:
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}_{s}" for s in ("bucket", "sum", "count"))
    return names


def unknown_metrics(expr: str) -> set[str]:
    return set(IDENT.findall(expr)) - exported_series()


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {track: kustomize.render(path) for track, path in OVERLAYS.items()}


def docs_of(text: str) -> list[dict]:  # type: ignore[type-arg]
    return kustomize.documents(text)


def by_kind(text: str, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in docs_of(text) if d["kind"] == kind]


def prometheus_rule() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "k8s/base/prometheusrule.yaml").read_text())


def test_unknown_metric_is_caught_by_the_checker() -> None:
    assert unknown_metrics("rate(modelops_request_total[5m])") == {"modelops_request_total"}
    assert unknown_metrics("rate(modelops_request_latency_seconds_bucket[5m])") == set()
    assert unknown_metrics("modelops_requests_in_flight_bucket") == {"modelops_requests_in_flight_bucket"}


@pytest.mark.integration
def test_overlays_validate_offline(rendered: dict[str, str]) -> None:
    for track, text in rendered.items():
        assert kustomize.validate(text) == [], track


@pytest.mark.integration
def test_validation_rejects_a_broken_manifest(rendered: dict[str, str]) -> None:
    broken = rendered["stable"].replace("containerPort: 8080", "containerPort: eighty", 1)
    assert any("containerPort" in p or "ports" in p for p in kustomize.validate(broken))
    rule = prometheus_rule()
    del rule["spec"]["groups"][0]["rules"][0]["labels"]
    assert any("severity" in p for p in kustomize.validate(yaml.safe_dump(rule)))


@pytest.mark.integration
def test_one_service_selects_app_only_and_tracks_split_by_deployment(rendered: dict[str, str]) -> None:
    services = by_kind(rendered["stable"], "Service")
    assert [s["metadata"]["name"] for s in services] == ["modelops-serve"]
    assert services[0]["spec"]["selector"] == {"app": "modelops-serve"}
    assert by_kind(rendered["canary"], "Service") == [], "the canary overlay must not own a second Service"
    for track, text in rendered.items():
        (dep,) = by_kind(text, "Deployment")
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels == {"app": "modelops-serve", "track": track}
        assert dep["spec"]["selector"]["matchLabels"] == labels
        assert dep["metadata"]["labels"]["track"] == track
    assert "commonLabels" not in (OVERLAYS["canary"] / "kustomization.yaml").read_text().split("patches:")[0]
    names = {by_kind(t, "Deployment")[0]["metadata"]["name"] for t in rendered.values()}
    assert names == {"modelops-serve", "modelops-serve-canary"}
    assert by_kind(rendered["canary"], "HorizontalPodAutoscaler") == []
    (hpa,) = by_kind(rendered["stable"], "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "modelops-serve"


@pytest.mark.integration
def test_pod_hardening_and_model_config(rendered: dict[str, str]) -> None:
    for _track, text in rendered.items():
        (dep,) = by_kind(text, "Deployment")
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(c)
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert re.fullmatch(r"[\w./-]+@sha256:[0-9a-f]{64}", c["image"]), "image must be pinned by digest"
        env = {e["name"]: e["value"] for e in c["env"]}
        cpu_limit = int(float(c["resources"]["limits"]["cpu"]))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            assert env[var] == str(cpu_limit), f"{var} must match the CPU limit"
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert Path(env["PREDICTION_LOG"]).parent.as_posix() in mounts
        assert c["ports"][0]["containerPort"] == 8080
        (cm,) = by_kind(text, "ConfigMap")
        assert set(cm["data"]) == {"MODEL_NAME", "MODEL_URI", "MODEL_VERSION", "MODEL_SHA256"}
        # The generated name carries a content hash, and the Deployment references that exact name.
        assert re.fullmatch(r"modelops-model(-canary)?-[a-z0-9]{10}", cm["metadata"]["name"])
        assert c["envFrom"][0]["configMapRef"]["name"] == cm["metadata"]["name"]


@pytest.mark.integration
def test_alerts_in_render_cover_issue_six() -> None:
    text = kustomize.render(OVERLAYS["stable"])
    (rule,) = by_kind(text, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "ModelopsLatencyP95High",
        "ModelopsErrorRatioHigh",
        "ModelopsPredictionScoreShift",
        "ModelopsValidationFailureRatioHigh",
        "ModelopsNoTraffic",
    }
    assert "histogram_quantile(0.95" in alerts["ModelopsLatencyP95High"]["expr"]


def test_every_alert_names_only_exported_metrics() -> None:
    for group in prometheus_rule()["spec"]["groups"]:
        for rule in group["rules"]:
            assert IDENT.findall(rule["expr"]), f"{rule['alert']} names no modelops_ metric"
            assert unknown_metrics(rule["expr"]) == set(), rule["alert"]


def test_dashboard_targets_use_exported_metrics_by_model_version() -> None:
    dash = json.loads((REPO / "k8s/monitoring/dashboard.json").read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 6
    titles = " ".join(p["title"].lower() for p in panels)
    for word in ("rate", "error", "latency", "score", "validation"):
        assert word in titles
    for p in panels:
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert IDENT.findall(t["expr"]) and unknown_metrics(t["expr"]) == set(), (p["title"], t["expr"])
    by_version = [p for p in panels if any("by (model_version" in t["expr"] for t in p["targets"])]
    assert len(by_version) >= 5, "RED and model panels must split by model_version"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.integration
def test_promtool_checks_the_rule_groups(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool absent (Debian package `prometheus` provides it); structural checks still run")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": prometheus_rule()["spec"]["groups"]}))
    out = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "X", "expr": "sum(("}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True).returncode != 0


@pytest.mark.integration
def test_httproute_example_is_optional_and_not_rendered(rendered: dict[str, str]) -> None:
    route = yaml.safe_load((REPO / "k8s/examples/httproute-weights.yaml").read_text())
    assert (
        route["kind"] == "HTTPRoute"
        and sum(b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]) == 100
    )
    assert all("HTTPRoute" not in t for t in rendered.values())


def test_dockerfile_is_multistage_pinned_and_non_root() -> None:
    lines = [ln.strip() for ln in (REPO / "Dockerfile").read_text().splitlines()]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2
    # A base given as a build ARG is checked through the ARG's default.
    args = dict(ln[4:].split("=", 1) for ln in lines if ln.startswith("ARG ") and "=" in ln)
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), f) for f in froms]
    # A stage built FROM an earlier stage inherits that stage's (checked) base.
    stages = {f.split()[-1] for f in froms if " AS " in f.upper()}
    external = [f for f in resolved if f.split()[1] not in stages]
    assert external, "no external base image"
    unpinned = [f for f in external if not re.search(r"@sha256:[0-9a-f]{64}\b", f)]
    assert not unpinned, f"every base must be pinned by digest: {unpinned}"
    final = lines[lines.index(froms[-1]) :]
    user = [ln for ln in final if ln.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in {"0", "root"}
    assert not any(re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", ln) for ln in final)
    assert final[-1] == 'CMD ["modelops", "serve"]'
    assert "EXPOSE 8080" in final


def configured_model_name() -> str:
    return str(yaml.safe_load((REPO / "configs/model.yaml").read_text())["name"])


def render_named(tmp_path: Path, name: str) -> str:
    """Render a copy of k8s/ whose overlays' model.env name `name`, as promote and init write it."""
    from modelops.release import overlay

    k8s = tmp_path / "k8s"
    shutil.copytree(REPO / "k8s", k8s)
    for track, path in OVERLAYS.items():
        (k8s / path.relative_to(REPO / "k8s") / "model.env").write_text(
            overlay.model_env(track, name, None, None)
        )
    return kustomize.render(k8s / "overlays/production")


def test_committed_manifests_name_no_model() -> None:
    """The model name lives in configs/model.yaml and reaches k8s only through model.env."""
    name = configured_model_name()
    for path in sorted((REPO / "k8s").rglob("*")):
        # model.env is the one place it may appear (`modelops init` and promotion write it there).
        if path.is_file() and path.name != "model.env":
            code = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
            hits = [ln for ln in code if re.search(rf"\b{re.escape(name)}\b", ln, re.I)]
            assert hits == [], f"{path.relative_to(REPO)} names the model {name!r}: {hits}"


@pytest.mark.integration
@pytest.mark.parametrize("name", [configured_model_name(), "fraud-score"])
def test_rendered_alerts_carry_the_model_env_name_and_pass_promtool(tmp_path: Path, name: str) -> None:
    text = render_named(tmp_path, name)
    (cm,) = by_kind(text, "ConfigMap")
    assert cm["data"]["MODEL_NAME"] == name
    (rule,) = by_kind(text, "PrometheusRule")
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(rules) == 5 and {r["labels"]["model"] for r in rules} == {name}
    others = {configured_model_name(), "fraud-score"} - {name}
    assert not any(re.search(rf"\b{re.escape(o)}\b", text) for o in others), "another model's name leaked in"
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool absent (Debian package `prometheus` provides it); the render checks still ran")
    rendered_rules = tmp_path / "rules.yaml"
    rendered_rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    out = subprocess.run([promtool, "check", "rules", str(rendered_rules)], capture_output=True, text=True)
    assert out.returncode == 0 and "5 rules found" in out.stdout, out.stdout + out.stderr
    assert f"model: {name}" in rendered_rules.read_text()
