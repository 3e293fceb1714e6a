"""One way onto the path, and no test dependency in production: pyproject.toml installs the code
(``pip install -e .``), requirements.txt pins what runs, requirements-test.txt what only the tests
use, and the production image (deploy/Dockerfile) installs the first and never the second."""
import ast
import importlib.util
import re
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
# The pytest plugin (conftest.py loads it); nothing the services run imports it.
TEST_ONLY_PACKAGES = ("heyun/testing",)  # the test kit: shipped with the kernel, imported by tests only


def pinned(path):
    """Distribution names of a requirements file, lower-case."""
    names = []
    for line in (ROOT / path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_a_package_is_pinned_once():
    runtime, tests = pinned("requirements.txt"), pinned("requirements-test.txt")
    assert len(set(runtime)) == len(runtime) and len(set(tests)) == len(tests)
    assert not set(runtime) & set(tests)


def production_modules():
    """Every module the image holds and runs: the packages it copies, without tests."""
    copied = re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.MULTILINE)
    for package in copied:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "tests" not in relative.parts and not str(relative).startswith(TEST_ONLY_PACKAGES):
                yield relative, path


def test_no_production_module_imports_a_test_dependency():
    test_dists = set(pinned("requirements-test.txt"))
    test_modules = {module for module, dists in packages_distributions().items()
                    if any(d.lower().replace("_", "-") in test_dists for d in dists)}
    assert {"pytest", "schemathesis", "aiosmtpd"} <= test_modules  # the mapping itself works
    found = []
    for relative, path in production_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{relative}:{node.lineno} {name}" for name in names if name.split(".")[0] in test_modules]
    assert not found, f"production code imports test-only packages (move them to requirements.txt?): {found}"


def test_the_image_installs_the_runtime_pins_and_the_code_only():
    installs = re.findall(r"^RUN pip install (.*)$", DOCKERFILE, re.MULTILINE)
    assert installs == ["-r requirements.txt", "--no-deps -e ."]
    assert "PYTHONPATH" not in DOCKERFILE


def test_the_image_copies_every_package_it_runs():
    """The launcher, the services and the gateway import these; bench and tests stay out."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"bench", "tests"}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.MULTILINE))
    assert packages <= copied


@pytest.mark.parametrize("package", sorted({p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
                                           | {p.parent.name for p in ROOT.glob("services/*/__init__.py")}))
def test_each_package_is_importable_by_its_own_name(package):
    """A service is ``registry``, not ``services.registry``: what its config and nameko name."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and Path(spec.origin).resolve().parent in (ROOT / package, ROOT / "services" / package)
