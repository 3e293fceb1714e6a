"""Accounts over HTTP and from the command line, and the registry fields the gateway's schemas
used to refuse (a resident's language and preferred channel, an organisation's webhook URL):
what an admin does, and what the person given the account then sees when signing in."""
import time
import uuid

import jwt
import pytest
from sqlalchemy import select

from gateway import accounts, demo
from gateway.models import Account
from gateway.edge.revocation import TokenRevocations
from gateway.tests.support import PASSWORD, TOKEN_SECRET, buildings, resident_body
from heyun.testing import wait_for
from heyun.testing.clients import assert_problem

NEW_PASSWORD = "river-nourishes-1"


def sign_in(client, username, password=NEW_PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def claims(response):
    assert response.status_code == 200, response.text
    return jwt.decode(response.json()["access_token"], TOKEN_SECRET, algorithms=["HS256"])


def create(client, as_user="admin", **body):
    body.setdefault("password", NEW_PASSWORD)
    return client.post("/api/v1/accounts", json=body, as_user=as_user)


def new_username(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- accounts over HTTP ---------------------------------------------------------------------
def test_an_admin_creates_a_grid_worker_account_that_signs_in_with_its_grid(platform):
    username = new_username("gridworker")
    created = create(platform, username=username, roles=["grid_worker"])
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["username"] == username and account["roles"] == ["grid_worker"] and account["active"]
    assert "password" not in account and "password_hash" not in account and NEW_PASSWORD not in created.text
    # The registry makes them the worker of a grid; the token then carries that grid.
    grid = platform.get("/api/v1/grids", as_user="admin").json()["items"][0]
    worker = platform.post("/api/v1/grid-workers", as_user="admin",
                           json={"name": "新网格员", "account": username, "grid_id": grid["id"]})
    assert worker.status_code == 201, worker.text
    token = claims(sign_in(platform, username))
    assert token["sub"] == username and token["roles"] == ["grid_worker"] and token["grid_ids"] == [grid["id"]]

    assert platform.get(f"/api/v1/accounts/{username}", as_user="admin").json() == account
    listed = platform.get("/api/v1/accounts?role=grid_worker&limit=500", as_user="admin").json()
    assert username in [a["username"] for a in listed["items"]]
    assert {a["username"] for a in listed["items"]} >= {"gridworker1", "gridworker4"}
    assert all("grid_worker" in a["roles"] for a in listed["items"]) and listed["total"] == len(listed["items"])
    page = platform.get("/api/v1/accounts?limit=2&offset=1", as_user="admin").json()
    assert len(page["items"]) == 2 and page["total"] > 2


def test_a_deactivated_account_cannot_sign_in_and_a_reset_password_replaces_the_old(platform):
    username = new_username("volunteer")
    assert create(platform, username=username, roles=["volunteer"]).status_code == 201
    token = sign_in(platform, username).json()["access_token"]

    changed = platform.patch(f"/api/v1/accounts/{username}", as_user="admin", json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert_problem(sign_in(platform, username), 401)

    def answer(bearer):
        return platform.get("/api/v1/service-items", headers={"Authorization": f"Bearer {bearer}"})
    # The token issued before stops working too, within the revocation refresh (0.2 s here).
    wait_for(lambda: answer(token).status_code == 401, timeout=5, message="the old token to be refused")
    assert "sign in again" in assert_problem(answer(token), 401)["detail"]
    assert platform.get("/api/v1/service-items", as_user="staff").status_code == 200  # others' are good

    platform.patch(f"/api/v1/accounts/{username}", as_user="admin",
                   json={"active": True, "password": "a-brand-new-password", "roles": ["patrol_member"]})
    assert_problem(sign_in(platform, username), 401)  # the old password no longer works
    reactivated = time.time()
    fresh = sign_in(platform, username, "a-brand-new-password")
    assert claims(fresh)["roles"] == ["patrol_member"]
    # Once the gateway has read its revocation lists again after the reactivation, the old token
    # is still refused and the new one is not.
    revocations = next(extension for extension in platform.container.shared_extensions.values()
                       if isinstance(extension, TokenRevocations))
    wait_for(lambda: revocations.refreshed_at > reactivated, timeout=5, message="a revocation refresh")
    assert answer(fresh.json()["access_token"]).status_code == 200
    assert answer(token).status_code == 401


def test_only_admins_manage_accounts_and_staff_may_read_them(platform):
    for username in ("staff", "volunteer", "gridworker1"):
        assert_problem(create(platform, as_user=username, username=new_username("x"), roles=["admin"]), 403)
        assert_problem(platform.patch("/api/v1/accounts/volunteer", as_user=username, json={"active": False}), 403)
    assert_problem(platform.get("/api/v1/accounts", as_user="volunteer"), 403)
    assert_problem(platform.get("/api/v1/accounts"), 401)
    assert platform.get("/api/v1/accounts/admin", as_user="staff").json()["roles"] == ["admin"]
    assert platform.get("/api/v1/accounts", as_user="staff").json()["total"] == len(demo.DEMO_ACCOUNTS)


def test_bad_account_requests_are_problems_naming_the_field(platform):
    username = new_username("police")
    assert create(platform, username=username, roles=["police"]).status_code == 201
    duplicate = assert_problem(create(platform, username=username, roles=["police"]), 409)
    assert "username" in duplicate["errors"]
    cases = [
        ({"username": new_username("a"), "roles": ["superuser"]}, "roles.0"),
        ({"username": new_username("a"), "roles": []}, "roles"),
        ({"username": new_username("a"), "roles": ["staff"], "password": "short"}, "password"),
        ({"username": "with space", "roles": ["staff"]}, "username"),
        ({"username": new_username("a"), "roles": ["staff"], "is_root": True}, "is_root"),
        ({"username": new_username("a"), "roles": ["resident"], "resident_id": str(uuid.uuid4())}, "resident_id"),
    ]
    for body, field in cases:
        problem = assert_problem(create(platform, **body), 422)
        assert field in problem["errors"], (body, problem)
    assert_problem(platform.patch(f"/api/v1/accounts/{username}", as_user="admin", json={"password_hash": "x"}), 422)
    assert_problem(platform.get("/api/v1/accounts/nobody-here", as_user="admin"), 404)
    assert_problem(platform.patch("/api/v1/accounts/nobody-here", as_user="admin", json={"active": False}), 404)


def test_the_last_active_admin_stays(platform):
    assert_problem(platform.patch("/api/v1/accounts/admin", as_user="admin", json={"active": False}), 409)
    assert_problem(platform.patch("/api/v1/accounts/admin", as_user="admin", json={"roles": ["staff"]}), 409)
    second = new_username("admin")
    assert create(platform, username=second, roles=["admin"]).status_code == 201
    assert platform.patch("/api/v1/accounts/admin", as_user="admin", json={"active": False}).status_code == 200
    assert_problem(sign_in(platform, "admin", PASSWORD), 401)


def test_a_resident_account_linked_by_id_reads_its_own_record(platform):
    building = buildings(platform)[0]
    resident = platform.post("/api/v1/residents", as_user="staff", json=resident_body(building["id"])).json()
    username = new_username("resident")
    created = create(platform, username=username, roles=["resident"], resident_id=resident["id"])
    assert created.status_code == 201 and created.json()["resident_id"] == resident["id"]
    token = claims(sign_in(platform, username))
    assert token["resident_id"] == resident["id"]
    bearer = {"Authorization": f"Bearer {sign_in(platform, username).json()['access_token']}"}
    assert platform.get(f"/api/v1/residents/{resident['id']}", headers=bearer).json()["id"] == resident["id"]


# -- the first admin, from the command line -------------------------------------------------
def test_the_command_line_creates_the_first_admin_and_resets_a_password(platform, gateway_db, monkeypatch, capsys):
    monkeypatch.setenv("HEYUN_NEW_PASSWORD", NEW_PASSWORD)
    accounts.main(["create", "--username", "chief", "--role", "admin", "--database-url", gateway_db])
    printed = capsys.readouterr().out
    assert "chief" in printed and NEW_PASSWORD not in printed
    assert claims(sign_in(platform, "chief"))["roles"] == ["admin"]
    with pytest.raises(SystemExit, match="exists"):
        accounts.main(["create", "--username", "chief", "--role", "admin", "--database-url", gateway_db])

    monkeypatch.setenv("HEYUN_NEW_PASSWORD", "short")
    with pytest.raises(SystemExit, match="password"):
        accounts.main(["create", "--username", "chief2", "--role", "admin", "--database-url", gateway_db])
    assert_problem(sign_in(platform, "chief2", "short"), 401)

    monkeypatch.delenv("HEYUN_NEW_PASSWORD")
    monkeypatch.setattr(accounts.getpass, "getpass", lambda prompt: "typed-at-the-prompt")
    accounts.main(["password", "--username", "chief", "--database-url", gateway_db])
    assert claims(sign_in(platform, "chief", "typed-at-the-prompt"))["sub"] == "chief"


# -- registry fields the gateway now passes on --------------------------------------------
def test_a_residents_language_and_preferred_channel_are_set_and_read_back(platform):
    building = buildings(platform)[0]
    created = platform.post("/api/v1/residents", as_user="staff",
                            json=resident_body(building["id"], preferred_channel="sms", language="en"))
    assert created.status_code == 201, created.text
    resident = created.json()
    assert resident["preferred_channel"] == "sms" and resident["language"] == "en"
    assert resident["building_number"] == building["number"]
    changed = platform.patch(f"/api/v1/residents/{resident['id']}", as_user="staff",
                             json={"preferred_channel": "door_to_door", "language": "zh"})
    assert changed.status_code == 200, changed.text
    again = platform.get(f"/api/v1/residents/{resident['id']}", as_user="staff").json()
    assert again["preferred_channel"] == "door_to_door" and again["language"] == "zh"
    problem = assert_problem(platform.patch(f"/api/v1/residents/{resident['id']}", as_user="staff",
                                            json={"preferred_channel": "pigeon"}), 422)
    assert "preferred_channel" in problem["errors"]


def test_an_organisations_webhook_url_is_set_at_creation_and_changed_later(platform):
    name = f"王河供热站 {uuid.uuid4().hex[:6]}"
    created = platform.post("/api/v1/organizations", as_user="admin", json={
        "name": name, "kind": "social_organization", "webhook_url": "http://heating.example:8080/notices"})
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["webhook_url"] == "http://heating.example:8080/notices"
    changed = platform.patch(f"/api/v1/organizations/{org['id']}", as_user="admin",
                             json={"webhook_url": "https://heating.example/v2/notices"})
    assert changed.status_code == 200, changed.text
    again = platform.get(f"/api/v1/organizations/{org['id']}", as_user="staff").json()
    assert again["webhook_url"] == "https://heating.example/v2/notices" and again["name"] == name
    too_long = "https://heating.example/" + "x" * 480  # past the 500 characters the registry keeps
    for body, field in (({"webhook_url": "ftp://heating.example/x"}, "webhook_url"), ({"kind": "gas_utility"}, "kind"),
                        ({"webhook_url": too_long}, "webhook_url")):
        assert field in assert_problem(platform.patch(f"/api/v1/organizations/{org['id']}", as_user="admin",
                                                      json=body), 422)["errors"]
    # notify posts to it from inside the platform: an address inside is refused, naming the field.
    for url in ("http://127.0.0.1:15672/api/users", "http://169.254.169.254/latest/meta-data/", "http://localhost/x"):
        problem = assert_problem(platform.patch(f"/api/v1/organizations/{org['id']}", as_user="admin",
                                                json={"webhook_url": url}), 422)
        assert list(problem["errors"]) == ["webhook_url"], problem
        problem = assert_problem(platform.post("/api/v1/organizations", as_user="admin", json={
            "name": name + "二", "kind": "social_organization", "webhook_url": url}), 422)
        assert list(problem["errors"]) == ["webhook_url"], problem
    assert_problem(platform.patch(f"/api/v1/organizations/{org['id']}", as_user="volunteer", json={"name": "x"}), 403)
    assert_problem(platform.patch(f"/api/v1/organizations/{uuid.uuid4()}", as_user="admin", json={"name": "x"}), 404)


def test_households_list_their_member_ids(platform):
    household = platform.get("/api/v1/households?limit=1", as_user="staff").json()["items"][0]
    assert isinstance(household["member_ids"], list) and household["member_count"] == len(household["member_ids"])
    assert "members" not in household


def test_two_admins_demoting_each_other_at_once_leave_one_admin(migrated_database):
    """The second demotion waits for the first and then finds itself the last admin (409)."""
    import threading

    from heyun.db import make_engine, make_sessionmaker, transaction
    from heyun.errors import Conflict

    engine = make_engine(migrated_database("gateway"))
    Session = make_sessionmaker(engine, "gateway")
    with transaction(Session) as session:
        for name in ("admin-a", "admin-b"):
            accounts.create_account(session, {"username": name, "password": NEW_PASSWORD, "roles": ["admin"]})
    first = Session()
    accounts.update_account(first, "admin-a", {"roles": ["staff"]})
    first.flush()  # admin-a demoted, not yet committed
    outcome = {}

    def demote_b():
        try:
            with transaction(Session) as session:
                accounts.update_account(session, "admin-b", {"roles": ["staff"]})
            outcome["b"] = "demoted"
        except Conflict:
            outcome["b"] = "refused"

    second = threading.Thread(target=demote_b)
    second.start()
    second.join(timeout=1.0)
    assert second.is_alive()  # waiting for the first demotion, not deciding without it
    first.commit()
    first.close()
    second.join(timeout=10)
    assert outcome == {"b": "refused"}
    with transaction(Session) as session:
        admins = [a.username for a in session.execute(select(Account)).scalars() if "admin" in a.roles and a.active]
    assert admins == ["admin-b"]
    engine.dispose()
