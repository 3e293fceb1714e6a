"""Production refuses what only development may use: a public secret at start, and a token that
names no active account at every request."""
import os
import subprocess
import sys

import pytest

from gateway.accounts import issue_token
from gateway.tests.support import PASSWORD, TOKEN_SECRET
from heyun.testing.clients import assert_problem
from heyun.config import ROOT, unsafe_settings
from heyun.identity import Caller
from heyun.testing import wait_for

# What each service needs set, with every other secret given a real value.
NEEDED = {
    "gateway": ["HEYUN_TOKEN_SECRET"],
    "registry": ["HEYUN_PII_KEY"],
    "notify": ["HEYUN_PII_KEY", "SMS_RECEIPT_SECRET", "HEYUN_WEBHOOK_SECRET"],
}
REAL = {"HEYUN_TOKEN_SECRET": "a" * 64, "HEYUN_PII_KEY": "cHJvZHVjdGlvbi1rZXktb2YtdGhpcnR5LXR3by1ieXRlcw==",
        "SMS_RECEIPT_SECRET": "b" * 64, "HEYUN_WEBHOOK_SECRET": "c" * 64}


def start_service(name, tmp_path, **environ):
    """``nameko run`` for ``name`` as production does, until it exits (or 60 s)."""
    module = "gateway.service" if name == "gateway" else f"{name}.service"
    config = ROOT / ("gateway" if name == "gateway" else f"services/{name}") / "config.yml"
    env = {key: value for key, value in os.environ.items() if key not in REAL}
    env.update(HEYUN_ENV="production",
               **{f"{name.upper()}_DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db"}, **environ)
    return subprocess.run([sys.executable, "-m", "nameko", "run", "--config", str(config), module],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(NEEDED))
def test_production_refuses_to_start_on_development_secrets(name, tmp_path):
    finished = start_service(name, tmp_path)
    assert finished.returncode != 0
    last_line = finished.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"{name}: HEYUN_ENV is production")
    for variable in NEEDED[name]:
        assert variable in last_line
    assert "Traceback" not in finished.stderr


def test_production_refuses_the_public_development_value_set_explicitly(tmp_path):
    finished = start_service("gateway", tmp_path, HEYUN_TOKEN_SECRET="heyun-dev-token-secret-not-for-production")
    assert finished.returncode != 0 and "set HEYUN_TOKEN_SECRET" in finished.stderr


def test_real_secrets_pass_the_check():
    for name in NEEDED:
        config = {"TOKEN_SECRET": REAL["HEYUN_TOKEN_SECRET"], "PII_KEY": REAL["HEYUN_PII_KEY"],
                  "SMS_RECEIPT_SECRET": REAL["SMS_RECEIPT_SECRET"], "WEBHOOK_SECRET": REAL["HEYUN_WEBHOOK_SECRET"]}
        assert unsafe_settings(name, config) == []
        assert unsafe_settings(name, {**config, "PII_KEY": "CHANGE-ME", "TOKEN_SECRET": ""}) == [
            variable for variable in ("HEYUN_TOKEN_SECRET", "HEYUN_PII_KEY") if variable in NEEDED[name]]


def forged(username, roles=("admin",)):
    """A token signed with the gateway's secret for any account, as a leaked secret would allow."""
    return issue_token(Caller(account=username, roles=tuple(roles)), TOKEN_SECRET, 600)


def test_a_token_for_an_account_that_does_not_exist_is_refused(gateway):
    response = gateway.get("/api/v1/accounts", headers={"Authorization": f"Bearer {forged('ghost')}"})
    assert "no active account" in assert_problem(response, 401)["detail"]


def test_a_token_for_an_inactive_account_is_refused(gateway):
    old_token = forged("staff", roles=("staff",))
    assert gateway.patch("/api/v1/accounts/volunteer", as_user="admin", json={"active": False}).status_code == 200
    # Signed after the deactivation (no revocation applies): the account itself is what counts,
    # once the process knows (within TOKEN_REVOCATION_REFRESH_SECONDS, 0.2 here).
    def as_volunteer():
        return gateway.get("/api/v1/accounts", headers={"Authorization": f"Bearer {forged('volunteer')}"})

    wait_for(lambda: as_volunteer().status_code == 401, message="the deactivation to be known")
    assert "no active account" in assert_problem(as_volunteer(), 401)["detail"]
    assert gateway.get("/api/v1/accounts", headers={"Authorization": f"Bearer {old_token}"}).status_code == 200


def test_a_new_account_works_at_once_on_a_replica_that_has_not_refreshed(start_gateway):
    first = start_gateway()
    slow = start_gateway(TOKEN_REVOCATION_REFRESH_SECONDS=600)  # its lists are as old as its start
    created = first.post("/api/v1/accounts", as_user="admin",
                         json={"username": "newcomer", "password": PASSWORD + "-new", "roles": ["staff"]})
    assert created.status_code == 201, created.text
    token = first.post("/api/v1/auth/token", json={"username": "newcomer", "password": PASSWORD + "-new"})
    response = slow.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert response.status_code == 200, response.text
