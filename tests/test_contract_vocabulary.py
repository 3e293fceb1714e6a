"""A vocabulary word (a tag, role, status, channel, category…) is written once, in the contract that
owns it (``services/<name>/contract.py``, or ``community/roles.py`` for the roles); everything
else refers to the enum member. This test walks the contracts' enums and reads every source file
(``*.py``; not tests, not migrations) for a quoted copy of one of their words outside the
contracts that own it. No broker, no database: it reads files.

A quoted word used as a field's name is not a copy of the vocabulary (``account``, ``email`` and
``role`` name fields too): a dict key, a subscript (``row["account"]``) or the key of ``get``,
``pop`` and ``setdefault`` is skipped. What remains is a stray copy, or one of ``EXCEPTIONS``.
"""
import ast
import enum
import importlib
from pathlib import Path

from community import policy
from registry.contract import Tag

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ["community/roles.py"] + sorted(
    str(path.relative_to(ROOT)) for path in (ROOT / "services").glob("*/contract.py"))
# (file, word): why the quoted word there is not a copy of the vocabulary.
EXCEPTIONS = {
    ("gateway/models.py", "account"): "a column's name in the idempotency ledger's unique constraint",
    ("gateway/throttle.py", "account"): "which failures a lock counts (an account's or an address's), not a recipient type",
    ("heyun/redaction.py", "email"): "the name of a personal field whose values the logs redact",
    ("services/registry/pii.py", "account"): "the audit log's filter field (who read)",
    ("services/registry/places.py", "account"): "a grid worker's field whose change is announced",
    ("gateway/edge/metrics.py", "other"): "the label of an HTTP method outside RFC 9110's, not a notice category",
}
# Directories read like tests: the benchmarks and the test kit (heyun/testing) build their rows
# and callers from literal data.
SKIPPED_DIRECTORIES = {".git", ".venv", "tests", "testing", "migrations", "bench", "node_modules"}


def vocabularies():
    """``{word: {contract file, …}}`` for every StrEnum the contracts define."""
    owners = {}
    for path in CONTRACTS:
        module = importlib.import_module(path.removeprefix("services/").removesuffix(".py").replace("/", "."))
        for value in vars(module).values():
            if isinstance(value, enum.EnumType) and issubclass(value, enum.StrEnum) \
                    and value.__module__ == module.__name__:
                for member in value:
                    owners.setdefault(member.value, set()).add(path)
    return owners


def _field_names_and_docstrings(tree):
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0].value))
        elif isinstance(node, ast.Dict):
            skipped.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            skipped.add(id(node.slice))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("get", "pop", "setdefault") and node.args:
            skipped.add(id(node.args[0]))
    return skipped


def strays(source, path, owners):
    """``[(path, line, word)]``: the quoted words of ``owners`` in ``source`` that ``path`` does not own."""
    tree = ast.parse(source)
    skipped = _field_names_and_docstrings(tree)
    return [(path, node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
            and node.value in owners and path not in owners[node.value]]


def source_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not SKIPPED_DIRECTORIES & set(relative.parts[:-1]):
            yield str(relative), path


def test_every_vocabulary_word_is_written_only_in_the_contract_that_owns_it():
    owners = vocabularies()
    found = [hit for relative, path in source_files()
             for hit in strays(path.read_text(encoding="utf-8"), relative, owners)]
    unexplained = [f"{path}:{line}: {word!r}" for path, line, word in found if (path, word) not in EXCEPTIONS]
    assert not unexplained, "Refer to the contract's enum member instead:\n" + "\n".join(unexplained)
    stale = set(EXCEPTIONS) - {(path, word) for path, _, word in found}
    assert not stale, f"Exceptions that no longer match anything: {sorted(stale)}"


def test_the_check_finds_a_copied_word_and_skips_field_names():
    owners = vocabularies()
    source = 'TAGS = ("elderly", "veteran")\nrow = {"account": 1}\nx = row["account"]\nrole = d.get("role")\n'
    assert strays(source, "services/canteen/diets.py", owners) == [
        ("services/canteen/diets.py", 1, "elderly"), ("services/canteen/diets.py", 1, "veteran")]
    assert strays('words = ("elderly",)\n', "services/registry/contract.py", owners) == []


def test_the_contracts_walked_hold_every_vocabulary():
    owners = vocabularies()
    assert {"registry", "notify"} <= {path.split("/")[1] for path in CONTRACTS if path.startswith("services/")}
    # One word of each kind the issue names: a tag, a role, a status, a channel.
    for word, owner in (("living_alone", "services/registry/contract.py"), ("grid_worker", "community/roles.py"),
                        ("acknowledged", "services/notify/contract.py"), ("door_to_door", "services/notify/contract.py")):
        assert owner in owners[word]


def test_the_access_policy_places_every_tag_in_one_sensitivity_group():
    groups = (policy.HEALTH_TAGS, policy.WELFARE_TAGS, policy.CIVIC_TAGS)
    assert policy.ALL_TAGS == set(Tag)
    assert sum(len(group) for group in groups) == len(Tag)
