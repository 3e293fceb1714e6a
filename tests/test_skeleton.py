"""The skeleton stays by construction: every service has the files ``make service`` lays down
(``deploy.new_service.SKELETON``), ``nameko run <name>.service`` finds exactly that service, and
no service reaches into another's internals. A service may import another's published contract
(``<other>.contract``) and nothing else of it; the gateway's own code likewise. What crosses that
line today is listed below, each with why, so a new crossing fails here instead of growing unseen."""
import ast
from pathlib import Path

import pytest
from nameko.cli.run import import_service

from deploy.new_service import SKELETON

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__init__.py"))

# The gateway's tests start the services (``<service>.service``) and may use their contracts, like
# any code outside a service. Beyond that they import today (reported, issue 8 §5):
GATEWAY_TESTS_BEYOND_CONTRACT = {
    "registry.demo": "gateway/tests/conftest.py seeds the registry with the Wanghe demo data",
    "registry.idnumbers": "test_import_rules.py, test_with_registry.py make valid ID numbers",
    "notify.cap": "test_with_notify.py validates the CAP document against notify's XSD check",
    "notify.channels.webhook": "test_with_notify.py verifies a webhook signature",
}


def present(service, pattern):
    return any((ROOT / "services" / service).glob(pattern))


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_skeleton(service):
    missing = [pattern for pattern in SKELETON if not present(service, pattern)]
    assert not missing, f"services/{service} lacks {missing} (deploy/templates/service/ has each)"


@pytest.mark.parametrize("service", SERVICES)
def test_nameko_run_finds_the_one_service(service):
    """What ``nameko run <name>.service`` (the launcher, compose, Kubernetes) will start: a base
    class imported by name would be taken for a second service and stop the start."""
    found = import_service(f"{service}.service")
    assert [cls.name for cls in found] == [service]


def imported_names(path):
    """``(line, module)`` of each absolute import in a module. ``from registry import places``
    imports the module ``registry.places``, so a name imported from a top-level package counts as
    its submodule; ``from registry.places import x`` is ``registry.places``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if "." in node.module:
                yield node.lineno, node.module
            else:
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"


def crossings(folder, owner=None):
    """``{dotted name: [where]}`` of imports under ``folder`` of another service's modules other
    than its contract (``owner`` may import its own)."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for line, name in imported_names(path):
            parts = name.split(".")
            if parts[0] in SERVICES and parts[0] != owner and parts[1:2] != ["contract"]:
                place = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.setdefault(name, []).append(f"{place}:{line}")
    return found


def test_the_import_walk_sees_each_crossing(tmp_path):
    """The walk itself: each spelling of reaching into another service is seen, the contract is not."""
    other = SERVICES[0]
    (tmp_path / "probe.py").write_text(
        f"import {other}.models\nfrom {other} import places\nimport {other}\n"
        f"from {other}.contract import X\nfrom {other} import contract\nfrom . import sibling\n"
        f"from {other}.tests.kit import Y\n")
    assert sorted(crossings(tmp_path)) == sorted([f"{other}.models", f"{other}.places", other, f"{other}.tests.kit"])


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another_s_internals(service):
    found = crossings(ROOT / "services" / service, owner=service)
    assert not found, f"{service} imports other services' internals (only <service>.contract may be): {found}"


def test_the_gateway_s_code_imports_only_contracts():
    gateway = ROOT / "gateway"
    found = {name: where for name, where in crossings(gateway).items()
             if not all(place.startswith("gateway/tests/") for place in where)}
    assert not found, f"the gateway reaches into services beyond their contracts: {found}"


def test_the_gateway_s_tests_import_only_what_is_reported():
    found = {name: where for name, where in crossings(ROOT / "gateway" / "tests").items()
             if name.split(".")[1:2] != ["service"]}
    new = {name: where for name, where in found.items() if name not in GATEWAY_TESTS_BEYOND_CONTRACT}
    assert not new, f"the gateway's tests reach further into services: {new}"
    gone = sorted(set(GATEWAY_TESTS_BEYOND_CONTRACT) - set(found))
    assert not gone, f"no longer imported, remove from GATEWAY_TESTS_BEYOND_CONTRACT: {gone}"
