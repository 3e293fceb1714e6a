"""How the tests are laid out: no test module imports another (what two test files share lives in
the kit, ``heyun.testing``, or in a ``support.py`` beside them), and the unit tier imports nothing
that needs a broker or a database server to be there."""
import ast

from heyun.config import ROOT

TEST_ROOTS = [ROOT / "heyun" / "tests", ROOT / "gateway" / "tests", ROOT / "tests",
              *sorted((ROOT / "services").glob("*/tests"))]


def walk_test_files():
    for root in TEST_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if path.name.startswith("test_") or path.name == "conftest.py":
                yield path


def imported_modules(path):
    """Every module ``path`` imports, by absolute name (``from a import b`` yields a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: against the file's package (services/ is on the path)
                package = path.parents[node.level - 1]
                top = ROOT / "services" if package.is_relative_to(ROOT / "services") else ROOT
                base = ".".join(package.relative_to(top).parts)
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def module_file(name):
    """The repository file module ``name`` is, found on disk without importing it (the root and
    ``services/`` are on the path), or None for anything else."""
    parts = name.split(".")
    for top in (ROOT, ROOT / "services"):
        for candidate in (top.joinpath(*parts).with_suffix(".py"), top.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return str(candidate)
    return None


def is_test_module(filename):
    name = filename.rsplit("/", 1)[-1]
    return name.startswith("test_") or name == "conftest.py"


def test_the_walk_finds_the_test_files():
    found = {path.relative_to(ROOT).as_posix() for path in walk_test_files()}
    assert {"services/registry/tests/conftest.py", "gateway/tests/test_http.py",
            "tests/test_e2e_notify.py", "heyun/tests/unit/test_test_layout.py"} <= found


def test_the_check_would_catch_an_import_of_a_test_module(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("from gateway.tests.test_http import something\nimport registry.tests.conftest\n")
    caught = {name for name in imported_modules(sample) if (origin := module_file(name)) and is_test_module(origin)}
    assert caught == {"gateway.tests.test_http", "registry.tests.conftest"}


def test_no_test_module_imports_another():
    offences = []
    for path in walk_test_files():
        for name in set(imported_modules(path)):
            origin = module_file(name)
            if origin and is_test_module(origin):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == [], "\n".join(offences)
