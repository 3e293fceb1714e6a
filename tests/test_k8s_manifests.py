"""The Kubernetes manifests (``deploy/k8s/``) checked the way the API server and an ops engineer
would, with no cluster: every document validates against the Kubernetes OpenAPI schemas that
``kubernetes-validate`` ships (strict: an unknown field, such as a ConfigMap setting put under
``metadata``, is an error), and every service of ``community/services.py`` has a Deployment with
probes that mean something, resources, secrets only from Secrets, a HorizontalPodAutoscaler and a
PodDisruptionBudget. A service missing from the manifests fails here (``make service`` adds them;
``tests/test_new_service.py`` runs this file on the scaffolded tree)."""
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from community.services import ALL, GATEWAY, names

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
# The newest Kubernetes whose schemas the pinned kubernetes-validate ships.
KUBERNETES_VERSION = "1.37.0"
# Names of environment variables whose value is a secret: only ever from a Secret.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PII_KEY|TOKEN|AMQP_URI|DATABASE_URL|API_KEY|PRIVATE", re.I)


def files():
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents():
    """``[(file name, index in the file, document)]`` for every manifest document."""
    return [(path.name, i, doc) for path in files()
            for i, doc in enumerate(yaml.safe_load_all(path.read_text())) if doc]


def find(kind, name):
    found = [doc for _, _, doc in documents() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert found, f"no {kind} named {name!r} in deploy/k8s/ (make service adds one for a new service)"
    assert len(found) == 1, f"{len(found)} {kind}s named {name!r} in deploy/k8s/"
    return found[0]


def container(name):
    deployment = find("Deployment", name)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def test_the_package_ships_the_version_checked():
    """A kubernetes-validate upgrade that drops this version fails here, not as a confusing error."""
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
                                 KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("where, index, doc", [
    pytest.param(where, i, doc, id=f"{where}-{doc['kind']}-{doc.get('metadata', {}).get('name')}")
    for where, i, doc in documents()])
def test_every_document_validates_against_the_kubernetes_schemas(where, index, doc):
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{where} document {index} ({doc.get('kind')} {doc.get('metadata', {}).get('name')}): "
                    f"{exc.message} at {'/'.join(map(str, exc.path))}")


def test_a_misplaced_setting_is_refused():
    """The check itself: a ConfigMap with a setting under ``metadata`` (deploy/k8s/config.yaml once
    had SMTP_HOST there) does not validate."""
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "SMTP_HOST": "mail"}, "data": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_once():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == [p.name for p in files()]


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_has_a_deployment_running_it(name):
    deployment = find("Deployment", name)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert container(name)["command"][-1] == f"{name}.service"
    # The autoscaler owns the replica count: a `replicas:` here would be reset by each apply.
    assert "replicas" not in deployment["spec"]


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_has_probes_that_mean_something(name):
    """The gateway: /readyz (the broker and every service answer ping) and /healthz. A Nameko
    service (no HTTP port): ``python -m heyun.probe <name>`` (its own ``ping`` over AMQP)."""
    c = container(name)
    readiness, liveness = c.get("readinessProbe"), c.get("livenessProbe")
    assert readiness and liveness, f"{name}: a readiness and a liveness probe"
    if name == GATEWAY.name:
        assert readiness["httpGet"]["path"] == "/readyz"
        assert liveness["httpGet"]["path"] == "/healthz"
        ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
        for probe in (readiness, liveness):
            assert probe["httpGet"]["port"] in ports or probe["httpGet"]["port"] in ports.values()
    else:
        for probe in (readiness, liveness):
            command = probe["exec"]["command"]
            assert command[:4] == ["python", "-m", "heyun.probe", name], command
            timeout = float(command[command.index("--timeout") + 1]) if "--timeout" in command else 3.0
            # The probe's own deadline ends before Kubernetes gives up on the command.
            assert timeout < probe.get("timeoutSeconds", 1), f"{name}: probe timeout vs timeoutSeconds"
    # Liveness restarts a pod: it must not fire before readiness has taken the pod out.
    live_after = liveness.get("periodSeconds", 10) * liveness.get("failureThreshold", 3)
    ready_after = readiness.get("periodSeconds", 10) * readiness.get("failureThreshold", 3)
    assert live_after > ready_after, f"{name}: liveness gives up before readiness"


def test_the_probe_module_exists():
    from heyun import probe
    assert callable(probe.main)


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_has_resources_set(name):
    resources = container(name).get("resources", {})
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{name}: resources.{bound} cpu and memory"


def containers_everywhere():
    """Every container of every workload (Deployments, Jobs) with where it is."""
    for where, _, doc in documents():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            yield f"{where}: {doc['kind']} {doc['metadata']['name']}/{c['name']}", c


def test_secrets_come_only_from_secrets():
    """No literal secret in a workload's ``env`` (``value:``) and no ``envFrom`` of a ConfigMap
    carrying one; every secret the Secret holds reaches the containers through ``secretRef``."""
    configmaps = {doc["metadata"]["name"]: doc.get("data", {}) for _, _, doc in documents() if doc["kind"] == "ConfigMap"}
    secret_names = {doc["metadata"]["name"] for _, _, doc in documents() if doc["kind"] == "Secret"}
    problems = []
    for where, c in containers_everywhere():
        for var in c.get("env", []):
            if SECRET_NAME.search(var["name"]) and "value" in var:
                problems.append(f"{where}: {var['name']} has a literal value (use valueFrom.secretKeyRef)")
            ref = var.get("valueFrom", {}).get("configMapKeyRef")
            if SECRET_NAME.search(var["name"]) and ref:
                problems.append(f"{where}: {var['name']} comes from ConfigMap {ref['name']}")
        for source in c.get("envFrom", []):
            if "secretRef" in source and source["secretRef"]["name"] not in secret_names:
                problems.append(f"{where}: Secret {source['secretRef']['name']} is not in deploy/k8s/")
    for name, data in configmaps.items():
        problems += [f"ConfigMap {name}: {key} is a secret" for key in data if SECRET_NAME.search(key)]
    assert problems == []


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_reads_the_secret_and_its_database_url_is_there(name):
    assert {"secretRef": {"name": "heyun-secrets"}} in container(name).get("envFrom", [])
    secret = find("Secret", "heyun-secrets")
    assert f"{name.upper()}_DATABASE_URL" in secret["stringData"]


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_has_a_horizontal_pod_autoscaler(name):
    hpa = find("HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]
    # A CPU utilisation target means nothing without a CPU request.
    assert "cpu" in container(name)["resources"]["requests"]


@pytest.mark.parametrize("name", names(ALL))
def test_each_service_has_a_pod_disruption_budget(name):
    pdb = find("PodDisruptionBudget", name)
    assert pdb["apiVersion"] == "policy/v1"
    labels = find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # With at least two replicas a drain leaves one serving; minAvailable equal to the replicas would block it.
    assert "maxUnavailable" in pdb["spec"] or pdb["spec"]["minAvailable"] < find(
        "HorizontalPodAutoscaler", name)["spec"].get("minReplicas", 1)
    assert find("HorizontalPodAutoscaler", name)["spec"].get("minReplicas", 1) >= 2
