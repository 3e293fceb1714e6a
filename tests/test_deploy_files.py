"""The compose file and Kubernetes manifests cannot run here (no Docker engine), so check what
can be checked: they parse, the compose file is valid against the Compose Specification's JSON
schema (``deploy/schemas/compose-spec.json``), and every service the launcher runs is in them with
its database. The Kubernetes manifests' schema and ops checks: tests/test_k8s_manifests.py."""
import json
import re
from pathlib import Path

import jsonschema

import pytest
import yaml

from community.services import ALL, names
from heyun.config import service_dir

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def manifests():
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "compose.yml").read_text())


def compose_errors(document):
    """The compose-spec schema's complaints about ``document`` (the YAML as loaded: anchors and
    ``<<`` merges resolved, as ``docker compose`` resolves them)."""
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    document = dict(document)
    # The shipped schema predates the top-level project name (deploy/schemas/README.md).
    name = document.pop("name", "heyun")
    errors = [f"name: {name!r} is not a project name"] if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(name)) else []
    validator = jsonschema.Draft201909Validator(schema)
    return errors + [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                     for e in validator.iter_errors(document)]


def test_compose_matches_the_compose_specification(compose):
    assert compose_errors(compose) == []


def test_the_compose_check_catches_a_misspelt_key(compose):
    broken = {**compose, "services": {**compose["services"], "registry": {
        **compose["services"]["registry"], "enviroment": {}}}}
    assert any("enviroment" in error for error in compose_errors(broken))


@pytest.mark.parametrize("name", names(ALL))
def test_compose_runs_every_service_on_its_own_database(compose, name):
    service = compose["services"][name]
    config = str((service_dir(name) / "config.yml").relative_to(DEPLOY.parent))
    assert service["command"][:4] == ["nameko", "run", "--config", config]
    assert service["command"][4] == f"{name}.service"
    assert f"/heyun_{name}" in service["environment"][f"{name.upper()}_DATABASE_URL"]
    assert name in compose["services"]["postgres"]["environment"]["HEYUN_DATABASES"].split()
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", names(ALL))
def test_kubernetes_has_a_deployment_per_service(name):
    docs = manifests()
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-1] == f"{name}.service"
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert f"{name.upper()}_DATABASE_URL" in secret["stringData"]


def test_kubernetes_basics():
    docs = manifests()
    kinds = {(d["kind"], d["metadata"].get("name")) for d in docs if "metadata" in d}
    assert ("Service", "gateway") in kinds and ("Job", "heyun-migrate") in kinds
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert {"AMQP_URI", "HEYUN_TOKEN_SECRET", "HEYUN_PII_KEY"} <= set(secret["stringData"])
    listed = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in (DEPLOY / "k8s").glob("*.yaml")
                                    if p.name != "kustomization.yaml")


def test_the_configmap_s_settings_are_in_its_data():
    """A setting written under ``metadata`` (as SMTP_HOST once was) reaches no container."""
    config = next(d for d in manifests() if d["kind"] == "ConfigMap")
    assert set(config["metadata"]) <= {"name", "labels", "annotations", "namespace"}
    assert {"HEYUN_ENV", "SMTP_HOST", "SMTP_PORT"} <= set(config["data"])
