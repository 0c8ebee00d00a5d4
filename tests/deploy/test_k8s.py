"""deploy/k8s: every rendered manifest validates against Kubernetes 1.34 (strict) and yamllint,
and the Deployment says what docs/deploy.md promises.

Rendered with `kubectl kustomize` (kustomize is built into kubectl).  The kustomizations
keep `commonLabels` and `patchesStrategicMerge`, deprecated in kustomize 5 but the only
spelling older kubectl builds (such as Debian's) read as well.  The CloudNativePG
`Cluster` is not a built-in kind and kubernetes-validate has no schema for it; no CRD
schema is available offline either, so it is checked here field by field instead.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from yamllint import config as yamllint_config
from yamllint import linter

from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
VERSION = "1.34"
TREES = ["base", "postgres", "overlays/dev", "overlays/prod"]
LINT = yamllint_config.YamlLintConfig(
    "extends: default\nrules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false},"
    " braces: {max-spaces-inside: 1}}"
)

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)


def render(tree: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S / tree)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("path", sorted(K8S.rglob("*.yaml")), ids=lambda p: str(p.relative_to(K8S)))
def test_yamllint(path: Path) -> None:
    problems = list(linter.run(path.read_text(), LINT, str(path)))
    assert not problems, [f"{p.line}:{p.column} {p.message}" for p in problems]


@pytest.mark.parametrize("tree", TREES)
def test_every_manifest_validates_strictly(tree: str) -> None:
    docs = render(tree)
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            continue  # no schema offline: test_the_postgres_cluster
        kubernetes_validate.validate(doc, VERSION, strict=True)


@pytest.mark.parametrize("tree", ["overlays/dev", "overlays/prod"])
def test_the_deployment_keeps_its_promises(tree: str) -> None:
    docs = render(tree)
    deployment = by_kind(docs, "Deployment")
    settings = by_kind(docs, "ConfigMap")["data"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    for container in pod["containers"] + pod["initContainers"]:
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert "limits" in container["resources"] and "requests" in container["resources"]
    server = next(c for c in pod["containers"] if c["name"] == "onshi")
    assert server["startupProbe"]["httpGet"]["path"] == "/v1/readyz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/v1/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v1/healthz"
    # --workers equals the CPU request; the grace period covers preStop, drain and shutdown.
    assert int(settings["ONSHI_WORKERS"]) == int(server["resources"]["requests"]["cpu"])
    pre_stop = server["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain, shutdown = float(settings["ONSHI_DRAIN_SECONDS"]), float(settings["ONSHI_SHUTDOWN_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + shutdown + 5
    # Secrets by reference only; the database URLs are built from them.
    env = {e["name"]: e for e in server["env"]}
    assert "valueFrom" in env["ONSHI_ADMIN_TOKEN"] and "value" not in env["ONSHI_ADMIN_TOKEN"]
    assert "-rw:" in env["ONSHI_DATABASE_URL"]["value"] and "-ro:" in env["ONSHI_DATABASE_READ_URL"]["value"]
    assert "$(DB_PASSWORD)" in env["ONSHI_DATABASE_URL"]["value"]
    assert settings["ONSHI_SNAPSHOT"].startswith("/var/lib/onshi-snapshot/")
    # No pod builds the base: it fetches the published file first.
    assert [c["args"][:2] for c in pod["initContainers"]] == [["snapshot", "fetch"]]
    publish = by_kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert 'onshi snapshot build --database-url "$ONSHI_DATABASE_READ_URL"' in publish["args"][0]


def test_prod_spreads_across_zones_and_dev_does_not_need_to() -> None:
    prod = by_kind(render("overlays/prod"), "Deployment")["spec"]["template"]["spec"]
    zones = [
        c for c in prod["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"
    ]
    assert zones and zones[0]["whenUnsatisfiable"] == "DoNotSchedule"
    dev = by_kind(render("overlays/dev"), "Deployment")["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in dev


def test_the_postgres_cluster() -> None:
    for tree, instances in (("overlays/dev", 1), ("overlays/prod", 3)):
        cluster = by_kind(render(tree), "Cluster")
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["metadata"]["name"] == "onshi-db"  # -> onshi-db-rw, -ro, -app, -ca
        assert cluster["spec"]["instances"] == instances
        assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "onshi", "owner": "onshi"}
        assert set(cluster["spec"]) <= {
            "instances",
            "imageName",
            "primaryUpdateStrategy",
            "bootstrap",
            "postgresql",
            "storage",
            "affinity",
            "monitoring",
        }
