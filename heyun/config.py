"""Service configuration: one ``config.yml`` per service, ``${VAR:default}`` taken from the environment.

The same files are read by ``nameko run --config`` (which does this substitution itself) and by
the platform's own commands (migrations, demo data, the launcher), so both see the same values.
"""
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from nameko.cli.main import setup_yaml_parser

ROOT = Path(__file__).resolve().parent.parent
# The community's time zone (its calendar day, quiet hours): HEYUN_TIME_ZONE, for every service.
COMMUNITY_TIME_ZONE = ZoneInfo(os.environ.get("HEYUN_TIME_ZONE") or "Asia/Shanghai")
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


def service_names():
    """Every service that exists, in start order, then the gateway."""
    names = sorted(p.parent.name for p in (ROOT / "services").glob("*/config.yml"))
    return names + ["gateway"]
