"""Service configuration: one ``config.yml`` per service, ``${VAR:default}`` taken from the environment.

The same files are read by ``nameko run --config`` (which does this substitution itself) and by
the platform's own commands (migrations, demo data, the launcher), so both see the same values.
"""
import os
import re
from pathlib import Path

import yaml
from nameko.cli.main import setup_yaml_parser

ROOT = Path(__file__).resolve().parent.parent
_parser_ready = False


def load_config(path):
    global _parser_ready
    if not _parser_ready:
        setup_yaml_parser()
        _parser_ready = True
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def service_dir(name):
    """``registry`` → ``services/registry``; the gateway lives at the top level."""
    return ROOT / "gateway" if name == "gateway" else ROOT / "services" / name


def service_config(name):
    return load_config(service_dir(name) / "config.yml")


# Settings that protect people's data or the right to act: each service's config.yml gives a
# development default everyone can read (or none), so production must set its own.
SECRET_SETTINGS = ("TOKEN_SECRET", "PII_KEY", "SMS_RECEIPT_SECRET", "WEBHOOK_SECRET")
# Values no installation keeps by choice: the deployment files' placeholders.
PLACEHOLDERS = {"", "CHANGE-ME"}
_SUBSTITUTION = re.compile(r"^(\w+):\s*\$\{(\w+):(.*)\}\s*$", re.MULTILINE)


def days_setting(config, name, default):
    """A retention setting in whole days (1 or more), read once at a service's start: a bad value
    stops the start naming the variable, instead of failing each periodic clean-up after it."""
    value = config.get(name, default)  # set but empty is a mistake, not the default
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if days < 1:
        raise SystemExit(f"{name} must be a whole number of days (1 or more), not {value!r}.")
    return days


def is_production():
    return os.environ.get("HEYUN_ENV", "development") == "production"


def unsafe_settings(name, config):
    """The environment variables service ``name`` must set before it may run in production: each
    of its ``SECRET_SETTINGS`` still empty, a placeholder, or its config.yml's development default."""
    path = service_dir(name) / "config.yml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    defaults = {key: (variable, default.strip()) for key, variable, default in _SUBSTITUTION.findall(text)}
    unsafe = []
    for key in SECRET_SETTINGS:
        if key not in defaults:
            continue
        variable, default = defaults[key]
        value = "" if config.get(key) is None else str(config[key]).strip()
        if value in PLACEHOLDERS or value == default:
            unsafe.append(variable)
    return unsafe


def refuse_unsafe_production(name, config):
    """Stop the start of a production service on a public or missing secret, naming what to set."""
    if not is_production():
        return
    unsafe = unsafe_settings(name, config)
    if unsafe:
        raise SystemExit(f"{name}: HEYUN_ENV is production, but {', '.join(unsafe)} "
                         f"{'is' if len(unsafe) == 1 else 'are'} not set or still the public development "
                         f"value: set {' and '.join(unsafe)} (see deploy/README.md).")
