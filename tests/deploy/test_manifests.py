"""The container image and the Kubernetes manifests: the kustomize output builds
offline, every document is valid for the vendored Kubernetes schemas, the shapes the runbook
relies on hold (probes, graceful shutdown, single beat and listener, autoscaling, disruption
budgets, scraping), the environment contract covers every variable of settings.py, and the
Dockerfile passes hadolint."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"
sys.path.insert(0, str(K8S))
import validate  # noqa: E402  (deploy/k8s/validate.py)

# Variables the manifests set that are not Django settings: read by prometheus_client,
# uvicorn, the worker's command line, or the migrations Job.
NOT_SETTINGS = {
    "PROMETHEUS_MULTIPROC_DIR",
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "DATABASE_DIRECT_URL",
}


def _tool(name: str) -> str:
    """A tool the check needs: on CI it must be there; elsewhere the test is skipped."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (deploy/k8s/README.md says where from)")
        pytest.skip(f"{name} is not installed")
    return found


@pytest.fixture(scope="module")
def rendered() -> str:
    kubectl = _tool("kubectl")
    result = subprocess.run(  # noqa: S603 - our own argv
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def docs(rendered: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(rendered) if doc
    }


def _deployment(docs: dict, name: str) -> dict[str, Any]:
    return docs[("Deployment", f"smartdesk-{name}")]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_overlay_builds_and_every_document_is_valid_kubernetes(rendered: str) -> None:
    documents = list(validate.documents([("overlay", rendered)]))

    assert validate.problems(documents) == []
    kinds = {doc["kind"] for _, doc in documents}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "ConfigMap",
        "Secret",
        "Ingress",
    } <= kinds


def test_the_validator_rejects_what_the_api_server_would() -> None:
    bad = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: "two"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: x
          image: x
          readinessProbe: {httpGet: {path: /readyz, port: 8000}, periodSecond: 5}
---
apiVersion: example.com/v1
kind: Unheard
metadata: {name: y}
"""
    found = validate.problems(validate.documents([("bad", bad)]))

    assert any("spec/replicas" in line for line in found), found
    assert any("periodSecond" in line for line in found), found
    assert any("no schema" in line and "Unheard" in line for line in found), found


@pytest.mark.parametrize("name", ["web", "ws"])
def test_the_servers_are_probed_and_drain_their_sockets_before_they_are_killed(
    docs: dict, name: str
) -> None:
    web = _deployment(docs, name)
    pod = web["spec"]["template"]["spec"]
    container = _container(web)

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = next(
        int(arg.split("=", 1)[1])
        for arg in container["command"]
        if arg.startswith("--timeout-graceful-shutdown=")
    )
    # the endpoints are gone before uvicorn stops, and uvicorn finishes before the kill
    assert pre_stop > 0
    assert pod["terminationGracePeriodSeconds"] > pre_stop + graceful
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_sockets_have_pods_of_their_own_and_the_ingress_sends_them_there(docs: dict) -> None:
    web, ws = _deployment(docs, "web"), _deployment(docs, "ws")
    # the same server, apart: each selects only its own pods
    assert _container(ws)["command"] == _container(web)["command"]
    for deployment in (web, ws):
        selector = deployment["spec"]["selector"]["matchLabels"].items()
        others = [d for d in (web, ws) if d is not deployment]
        assert all(
            not selector <= d["spec"]["template"]["metadata"]["labels"].items() for d in others
        )
    # no ticker in the socket pods, as in deploy/Procfile
    env = {item["name"]: item.get("value") for item in _container(ws)["env"]}
    assert env["SMARTDESK_TICKER"] == "false"
    assert "SMARTDESK_TICKER" not in {item["name"] for item in _container(web)["env"]}
    # /ws/ goes to the ws Service, everything else to web, on one host (one session cookie)
    (ingress,) = (doc for (kind, _), doc in docs.items() if kind == "Ingress")
    (rule,) = ingress["spec"]["rules"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {"/ws/": "smartdesk-ws", "/": "smartdesk-web"}
    for name in routes.values():
        service = docs[("Service", name)]
        pods = _deployment(docs, name.removeprefix("smartdesk-"))["spec"]["template"]
        assert service["spec"]["selector"].items() <= pods["metadata"]["labels"].items()


def test_beat_and_the_listener_run_once_the_rest_scale_and_migrations_are_a_job(
    docs: dict,
) -> None:
    for name in ("beat", "ami"):
        assert _deployment(docs, name)["spec"]["replicas"] == 1, name
    assert "beat" in _container(_deployment(docs, "beat"))["command"]
    assert "ami_listener" in _container(_deployment(docs, "ami"))["command"]
    for name in ("web", "ws", "worker"):
        hpa = docs[("HorizontalPodAutoscaler", f"smartdesk-{name}")]
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"smartdesk-{name}"
        assert hpa["spec"]["minReplicas"] >= 2
        pdb = docs[("PodDisruptionBudget", f"smartdesk-{name}")]
        labels = _deployment(docs, name)["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    job = docs[("Job", "smartdesk-migrate")]
    assert _container(job)["command"][-2:] == ["migrate", "--noinput"]


def test_pods_are_not_root_are_scraped_and_share_one_metrics_directory(docs: dict) -> None:
    config = next(doc for (kind, _), doc in docs.items() if kind == "ConfigMap")
    multiproc = config["data"]["PROMETHEUS_MULTIPROC_DIR"]
    for name in ("web", "ws", "worker", "worker-background", "beat", "ami"):
        deployment = _deployment(docs, name)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        container = _container(deployment)
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert multiproc in mounts, name
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {config["metadata"]["name"], _secret_name(docs)}, name
    for name in ("web", "ws", "worker", "worker-background"):
        annotations = _deployment(docs, name)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        port = int(annotations["prometheus.io/port"])
        ports = {p["containerPort"] for p in _container(_deployment(docs, name))["ports"]}
        assert port in ports, name


def test_each_celery_queue_has_pods_of_its_own(docs: dict) -> None:
    """The default queue (what people wait for) and the background queue (summaries,
    exports, retraining) are consumed by separate Deployments: slow work never holds the
    slots a reply waits for."""
    from django.conf import settings

    queues = {}
    for name in ("worker", "worker-background"):
        words = " ".join(_container(_deployment(docs, name))["command"]).split()
        queues[name] = words[words.index("-Q") + 1]
    assert queues == {"worker": "celery", "worker-background": settings.BACKGROUND_QUEUE}


def _secret_name(docs: dict) -> str:
    return next(name for (kind, name) in docs if kind == "Secret")


def _settings_variables() -> set[str]:
    source = (REPO / "smartdesk" / "settings.py").read_text()
    pattern = r'(?:env\.\w+|_flag|_checked_url)\(\s*"([A-Z][A-Z0-9_]+)"'
    return set(re.findall(pattern, source))


def test_the_environment_contract_covers_every_setting(docs: dict) -> None:
    variables = _settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "BEAT_LOCK_SECONDS"} <= variables
    config = next(doc for (kind, _), doc in docs.items() if kind == "ConfigMap")
    secret = docs[("Secret", _secret_name(docs))]
    set_here = set(config["data"]) | set(secret["data"])

    # everything the manifests set is a setting (no typo silently ignored) ...
    assert set_here - variables - NOT_SETTINGS == set()
    # ... the secrets are in the Secret, and every setting is documented for operators
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN"} <= set(secret["data"])
    documented = (REPO / "docs" / "deploy.md").read_text()
    missing = sorted(name for name in variables if f"`{name}`" not in documented)
    assert missing == [], f"settings not in docs/deploy.md's environment table: {missing}"


def test_the_dockerfile_passes_hadolint_and_runs_as_a_user() -> None:
    dockerfile = REPO / "deploy" / "Dockerfile"
    text = dockerfile.read_text()
    result = subprocess.run(  # noqa: S603 - our own argv
        [_tool("hadolint"), str(dockerfile)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0")), users
    assert "collectstatic" in text
    assert len(re.findall(r"^FROM\s", text, flags=re.MULTILINE)) >= 2
