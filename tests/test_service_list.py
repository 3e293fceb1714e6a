"""``community/services.py`` is the one list of services the launcher, readiness and the event
catalogue go over: it must name every service that exists, and the databases the deployment
files give them, or a new service would run unmigrated, unprobed and out of the catalogue."""
from pathlib import Path

import yaml

from community.services import ALL, GATEWAY, SERVICES
from heyun.config import ROOT

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_the_list_names_every_service_once_and_the_gateway_last():
    listed = [service.name for service in ALL]
    existing = [path.parent.name for path in (ROOT / "services").glob("*/config.yml")] + ["gateway"]
    assert sorted(listed) == sorted(existing)  # services/*/config.yml and the gateway
    assert len(set(listed)) == len(listed)
    assert ALL[-1] == GATEWAY and GATEWAY not in SERVICES


def test_each_database_is_the_one_the_deployment_files_use():
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    secret = next(doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "secret.yaml").read_text())
                  if doc and doc.get("kind") == "Secret")
    for service in ALL:
        variable = f"{service.name.upper()}_DATABASE_URL"
        assert compose["services"][service.name]["environment"][variable].endswith("/" + service.database)
        assert secret["stringData"][variable].endswith("/" + service.database)
