"""``make service NAME=kitchen``, tried on a copy of the tree: the new service has the skeleton,
imports, passes its own unit and interface tests (its first migration run against PostgreSQL),
and is registered everywhere the platform looks for services, so the checks of the deployment
files (the Kubernetes manifests validated, with its probes, HPA and PDB) and of the skeleton hold
with it."""
import os
import shutil
import subprocess
import sys

import pytest

from deploy.new_service import SKELETON, ScaffoldError, plan, scaffold
from heyun.config import ROOT

NAME = "kitchen"
COPIED = shutil.ignore_patterns(".git", ".venv", "data", "__pycache__", "*.egg-info", "bench")


def run(tree, *command, timeout=600):
    """A command in the copy, with the copy first on the path: it is not what this venv has
    installed (that is the repository), and its new service is in no installation at all."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "services")])}
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tree = tmp_path_factory.mktemp("heyun") / "tree"
    shutil.copytree(ROOT, tree, ignore=COPIED)
    made = run(tree, sys.executable, "-m", "deploy.new_service", NAME, "--root", str(tree))
    assert made.returncode == 0, made.stdout + made.stderr
    return tree


def test_it_lays_down_the_skeleton_and_the_deployment_files(tree):
    service = tree / "services" / NAME
    assert [pattern for pattern in SKELETON if not any(service.glob(pattern))] == []
    assert (tree / "gateway" / "routes" / f"{NAME}.py").is_file()
    assert (tree / "deploy" / "k8s" / f"{NAME}.yaml").is_file()
    assert f"${{{NAME.upper()}_DATABASE_URL:sqlite:///data/{NAME}.db}}" in (service / "config.yml").read_text()
    listed = run(tree, sys.executable, "-c", "from community.services import SERVICES; "
                                             "print([(s.name, s.database) for s in SERVICES][-1])")
    assert listed.stdout.strip() == str((NAME, f"heyun_{NAME}")), listed.stderr


def test_the_new_service_passes_its_tests_and_the_platform_s_checks(tree):
    """Its unit tier (SQLite), its interface tier (RabbitMQ, its migrated PostgreSQL database), and
    the checks every service is held to: the skeleton, compose and Kubernetes, the service list."""
    checks = [f"services/{NAME}", "tests/test_skeleton.py", "tests/test_deploy_files.py",
              "tests/test_k8s_manifests.py"]
    if (tree / "tests" / "test_service_list.py").exists():
        checks.append("tests/test_service_list.py")
    result = run(tree, sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *checks)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    for ran in (f"services/{NAME}/tests/unit/test_{NAME}.py::test_the_migrations_make_the_schema_the_models_declare",
                f"services/{NAME}/tests/test_{NAME}_service.py::",
                f"tests/test_skeleton.py::test_every_service_has_the_skeleton[{NAME}]",
                f"tests/test_skeleton.py::test_nameko_run_finds_the_one_service[{NAME}]",
                f"tests/test_deploy_files.py::test_compose_runs_every_service_on_its_own_database[{NAME}]",
                f"tests/test_deploy_files.py::test_kubernetes_has_a_deployment_per_service[{NAME}]",
                f"tests/test_k8s_manifests.py::test_every_document_validates_against_the_kubernetes_schemas[{NAME}.yaml-",
                f"tests/test_k8s_manifests.py::test_each_service_has_probes_that_mean_something[{NAME}]",
                f"tests/test_k8s_manifests.py::test_each_service_has_resources_set[{NAME}]",
                f"tests/test_k8s_manifests.py::test_each_service_has_a_horizontal_pod_autoscaler[{NAME}]",
                f"tests/test_k8s_manifests.py::test_each_service_has_a_pod_disruption_budget[{NAME}]",
                f"tests/test_k8s_manifests.py::test_the_kustomization_lists_every_manifest_once",
                "tests/test_deploy_files.py::test_compose_matches_the_compose_specification"):
        assert f"PASSED {ran}" in result.stdout, f"{ran} did not pass:\n{result.stdout[-3000:]}"


def test_the_gateway_serves_its_routes(tree):
    mixin = f"{NAME.capitalize()}Routes"
    result = run(tree, sys.executable, "-c", f"import eventlet; eventlet.monkey_patch(); "
                                             f"from gateway.service import GatewayService; "
                                             f"from gateway.routes.{NAME} import {mixin}; "
                                             f"assert {mixin} in GatewayService.__mro__")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, reason", [
    ("registry", "is taken"),
    ("gateway", "is taken"),
    ("Kitchen", "lower-case"),
    ("kitchen_2", "lower-case"),
    ("json", "standard module"),
    ("yaml", "installed package"),
])
def test_a_name_that_cannot_be_a_service_is_refused(name, reason):
    with pytest.raises(ScaffoldError, match=reason):
        plan(name, ROOT)


def test_a_file_it_cannot_register_in_stops_it_with_nothing_written(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=COPIED)
    (tree / "deploy" / "compose.yml").write_text("services: {}\n")  # no layout it knows
    with pytest.raises(ScaffoldError, match="deploy/compose.yml"):
        scaffold(NAME, tree)
    assert not (tree / "services" / NAME).exists()
    assert NAME not in (tree / "community" / "services.py").read_text()
