"""``make service NAME=<name>`` (``python -m deploy.new_service <name>``): a new service, skeleton
and all, in one command.

It writes ``services/<name>/`` from the templates in ``deploy/templates/service/`` (every file of
``SKELETON``: the package, its contract, models, a first migration creating the kernel's tables,
its config with its database URL, its demo hook, RPC.md, a unit and an interface test), its gateway
routes module ``gateway/routes/<name>.py``, and registers it where the platform looks for services:
the service list (``community/services.py``: the launcher, readiness and the event catalogue), the
gateway's route mixins (``gateway/service.py``), compose (``deploy/compose.yml``, with its database
in PostgreSQL's init list) and Kubernetes (``deploy/k8s/<name>.yaml``, the kustomization, the
database URL in the Secret). Everything is checked before anything is written: a name that is
taken, or a file whose layout it does not recognise, stops it with nothing changed.

Templates are ``string.Template`` files (``*.tmpl``; ``$name``, ``$Name``, ``$NAME``, ``$date``;
``$$`` is a dollar sign); other files are copied as they are.
"""
import argparse
import importlib.util
import keyword
import re
import string
import sys
from datetime import date
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
ROOT = Path(__file__).resolve().parent.parent

# What every service has (README "Where things live"; tests/test_skeleton.py holds every service
# to it), as glob patterns under services/<name>/: each tier's tests are named as the service likes.
SKELETON = (
    "__init__.py",
    "service.py",
    "contract.py",
    "models.py",
    "exceptions.py",
    "demo.py",
    "config.yml",
    "RPC.md",
    "migrations/env.py",
    "migrations/versions",
    "tests/__init__.py",
    "tests/unit/__init__.py",
    "tests/unit/test_*.py",
    "tests/test_*.py",
)
# Lower-case letters and digits: a Python package, a compose service, a Kubernetes name (no
# underscore there) and an environment variable prefix all at once.
NAME = re.compile(r"[a-z][a-z0-9]{1,30}")


class ScaffoldError(Exception):
    """Something that stops the scaffold before it writes anything; printed without a traceback."""


def words(name):
    return {"name": name, "Name": name.capitalize(), "NAME": name.upper(), "date": date.today().isoformat()}


def render(path, values):
    """A template's text with ``values``; any other file's text as it is."""
    text = path.read_text(encoding="utf-8")
    return string.Template(text).substitute(values) if path.suffix == ".tmpl" else text


def target_name(relative, values):
    """``tests/unit/test_${name}.py.tmpl`` → ``tests/unit/test_kitchen.py``."""
    relative = str(relative)
    if relative.endswith(".tmpl"):
        relative = relative[: -len(".tmpl")]
    return string.Template(relative).substitute(values)


def check_name(name, root):
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"{name!r}: a service's name is 2 to 31 lower-case letters and digits, "
                            "starting with a letter (it is a package, a compose service and a Kubernetes name).")
    if keyword.iskeyword(name) or name in sys.stdlib_module_names or name in sys.builtin_module_names:
        raise ScaffoldError(f"{name!r} is a Python keyword or standard module: as a top-level package "
                            "it would hide it. Choose another name.")
    taken = {p.name for p in root.iterdir() if p.is_dir()} | {"gateway", "heyun", "community", "deploy", "tests"}
    if (root / "services" / name).exists() or name in taken:
        raise ScaffoldError(f"{name!r} is taken: services/{name} or a top-level folder of that name exists.")
    if importlib.util.find_spec(name) is not None:
        raise ScaffoldError(f"{name!r} is the name of an installed package ({importlib.util.find_spec(name).origin}): "
                            "as a top-level package the service would hide it. Choose another name.")


# -- the registrations: each a text edit that keeps the file's comments and layout ----------------

def insert_after_last(text, pattern, line, what):
    """``text`` with ``line`` after the last line matching ``pattern``."""
    matches = list(re.finditer(pattern, text, re.MULTILINE))
    if not matches:
        raise ScaffoldError(f"cannot find where to add {what}")
    end = text.index("\n", matches[-1].end()) + 1
    return text[:end] + line + "\n" + text[end:]


def insert_before(text, pattern, block, what):
    match = re.search(pattern, text, re.MULTILINE)
    if not match:
        raise ScaffoldError(f"cannot find where to add {what}")
    return text[: match.start()] + block + text[match.start():]


def register_in_service_list(text, name):
    """community/services.py: a line at the end of ``SERVICES`` (start order: after those it may call)."""
    match = re.search(r"^SERVICES = [(\[]\n(?:    .*\n)*?(?=[)\]])", text, re.MULTILINE)
    if not match:
        raise ScaffoldError("community/services.py: cannot find the SERVICES list")
    return text[: match.end()] + f'    Service("{name}", database="heyun_{name}"),\n' + text[match.end():]


def register_in_compose(text, name):
    """deploy/compose.yml: its database URL for every container, its database in PostgreSQL's
    init list, and its container, before the gateway's."""
    text = insert_after_last(text, r"^    [A-Z0-9]+_DATABASE_URL: postgresql://.*$",
                             f"    {name.upper()}_DATABASE_URL: postgresql://postgres:${{POSTGRES_PASSWORD:-heyun}}"
                             f"@postgres:5432/heyun_{name}", "the database URL to compose")
    text, found = re.subn(r"^(      HEYUN_DATABASES: [a-z0-9 ]*[a-z0-9])", rf"\1 {name}", text, count=1,
                          flags=re.MULTILINE)
    if not found:
        raise ScaffoldError("deploy/compose.yml: cannot find postgres' HEYUN_DATABASES")
    block = (f"  {name}:\n    <<: *heyun\n"
             f'    command: ["nameko", "run", "--config", "services/{name}/config.yml", "{name}.service"]\n\n')
    return insert_before(text, r"^  gateway:\n", block, "the container to compose")


def register_in_init_script(text, name):
    """deploy/postgres-init/create-databases.sh: its default list, for a run without compose's."""
    text, found = re.subn(r"(\$\{HEYUN_DATABASES:-[a-z0-9 ]*[a-z0-9])\}", rf"\1 {name}}}", text, count=1)
    if not found:
        raise ScaffoldError("deploy/postgres-init/create-databases.sh: cannot find the default list")
    return text


def register_in_kustomization(text, name):
    return insert_before(text, r"^  - gateway\.yaml\n", f"  - {name}.yaml\n", "the manifest to the kustomization")


def register_in_secret(text, name):
    return insert_after_last(text, r"^  [A-Z0-9]+_DATABASE_URL: postgresql://.*$",
                             f"  {name.upper()}_DATABASE_URL: postgresql://heyun:CHANGE-ME@postgres.heyun.svc:5432/heyun_{name}",
                             "the database URL to the Secret")


def register_in_gateway(text, name):
    """gateway/service.py: import the routes module and add its mixin to ``GatewayService``'s bases.
    The service imports the route modules, not their classes (``nameko run`` would take a mixin
    imported into the module for a service of its own)."""
    found = re.search(r"^from gateway\.routes import ([\w, ]+)$", text, re.MULTILINE)
    if not found:
        raise ScaffoldError("cannot find where to add the routes import to gateway/service.py")
    modules = sorted({*(m.strip() for m in found.group(1).split(",")), name})
    text = text[:found.start()] + "from gateway.routes import " + ", ".join(modules) + text[found.end():]
    return insert_after_last(text, r"^    \w+\.\w+Routes,$", f"    {name}.{name.capitalize()}Routes,",
                             "the routes mixin to GatewayService")


REGISTRATIONS = (
    ("community/services.py", register_in_service_list),
    ("deploy/compose.yml", register_in_compose),
    ("deploy/postgres-init/create-databases.sh", register_in_init_script),
    ("deploy/k8s/kustomization.yaml", register_in_kustomization),
    ("deploy/k8s/secret.yaml", register_in_secret),
    ("gateway/service.py", register_in_gateway),
)


def plan(name, root):
    """``({path: new text}, [what is left to do by hand])`` for every file to write, or
    ScaffoldError with nothing written."""
    check_name(name, root)
    values = words(name)
    changes, by_hand = {}, []
    for template in sorted((TEMPLATES / "service").rglob("*")):
        if template.is_file() and "__pycache__" not in template.parts:
            relative = target_name(template.relative_to(TEMPLATES / "service"), values)
            changes[root / "services" / name / relative] = render(template, values)
    changes[root / "gateway" / "routes" / f"{name}.py"] = render(TEMPLATES / "gateway" / "routes.py.tmpl", values)
    changes[root / "deploy" / "k8s" / f"{name}.yaml"] = render(TEMPLATES / "k8s" / "deployment.yaml.tmpl", values)
    for relative, register in REGISTRATIONS:
        path = root / relative
        if not path.exists():
            raise ScaffoldError(f"{relative} is missing: cannot register {name} there")
        try:
            changes[path] = register(path.read_text(encoding="utf-8"), name)
        except ScaffoldError as exc:
            raise ScaffoldError(f"{relative}: {exc}") from None
    return changes, by_hand


def scaffold(name, root=ROOT):
    """Write the new service and its registrations under ``root``; returns the paths written and
    what is left to do by hand."""
    root = Path(root).resolve()
    changes, by_hand = plan(name, root)
    for path, text in changes.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(path.relative_to(root) for path in changes), by_hand


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make service NAME=<name>", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the service's name: lower-case letters and digits, e.g. canteen")
    parser.add_argument("--root", default=str(ROOT), help="the repository to write into (default: this one)")
    args = parser.parse_args(argv)
    try:
        written, by_hand = scaffold(args.name, args.root)
    except ScaffoldError as exc:
        print(f"make service: {exc}", file=sys.stderr)
        return 1
    print("\n".join(f"  {path}" for path in written))
    for step in by_hand:
        print(f"by hand: {step}")
    print(f"""
{args.name} is a service: `make test` runs its tests, `make run` starts it. Next, in its own files:
its vocabularies, RPC inputs and events in services/{args.name}/contract.py, its tables in models.py
(and a migration for them), its entrypoints in service.py and RPC.md, its routes in
gateway/routes/{args.name}.py, its demo data in demo.py.""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
