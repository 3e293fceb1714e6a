"""Accounts and bearer tokens: password hashing (scrypt with a per-account salt), signing in, and
the HS256 JWT that carries the caller (account, roles, grids, organisation, resident).

The token carries the whole ``Caller`` so a request needs no database read to know who asks;
a change to an account (roles, links, password, deactivation) revokes the tokens issued before
it, which every gateway process learns within seconds (``edge/revocation.py``). A grid worker's new
grid, which is the registry's, takes effect at the next sign-in.

Admins manage accounts over HTTP (``/api/v1/accounts``, see ``routes/auth.py``); the first admin of a
production installation, where no demo accounts exist, comes from the command line:

    HEYUN_NEW_PASSWORD=… python -m gateway.accounts create --username admin --role admin
    python -m gateway.accounts password --username admin      # a forgotten password (prompts)

Both use ``GATEWAY_DATABASE_URL`` (the gateway's ``config.yml``) unless ``--database-url`` is given,
and read the password from ``HEYUN_NEW_PASSWORD`` or prompt for it, so it is never in the shell's
history or the process list.
"""
import argparse
import getpass
import hashlib
import hmac
import os
import sys
import time

import jwt
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from community.roles import Role
from gateway import schemas
from gateway.exceptions import Unauthorized
from gateway.models import Account
from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction, utcnow
from heyun.errors import Conflict, NotFound
from heyun.identity import Caller

ROLES = tuple(Role)  # every role an account may hold (community.roles)
# scrypt cost: 2**14 × 8 takes ~50 ms and 16 MiB, OWASP's minimum for interactive sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
ALGORITHM = "HS256"


def hash_password(password, salt=None, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P):
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password, stored):
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hash_password(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    # Constant-time comparison, so timing does not reveal how much of the hash matched.
    return hmac.compare_digest(candidate.split("$")[-1], digest)


# A hash to check against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = hash_password("not-a-password", salt=b"\0" * 16)


def authenticate(session, username, password):
    """The active account with these credentials, or ``Unauthorized`` (never saying which was wrong)."""
    account = session.execute(select(Account).where(Account.username == username)).scalar_one_or_none()
    if account is None:
        verify_password(password, _DUMMY_HASH)
        raise Unauthorized("Wrong username or password.")
    if not verify_password(password, account.password_hash) or not account.active:
        raise Unauthorized("Wrong username or password.")
    return account


def caller_for(account, grid_ids=()):
    return Caller(
        account=account.username, roles=tuple(account.roles), grid_ids=tuple(grid_ids),
        organization_id=account.organization_id, resident_id=account.resident_id,
    )


def issue_token(caller, secret, ttl_seconds, now=None):
    now = now if now is not None else time.time()
    claims = {
        "sub": caller.account, "roles": list(caller.roles), "grid_ids": list(caller.grid_ids),
        "organization_id": caller.organization_id, "resident_id": caller.resident_id,
        # To the millisecond: a token issued just after a revocation, in the same second, is good.
        "iat": round(now, 3), "exp": int(now) + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token, secret, revocations=None):
    """The ``Caller`` a valid, unexpired, unrevoked token speaks for; ``Unauthorized`` otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; sign in again.") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid.") from None
    if revocations is not None:
        if revocations.revoked(claims["sub"], claims.get("iat", 0)):
            raise Unauthorized("The account has changed since this token was issued; sign in again.")
        if not revocations.active(claims["sub"], claims.get("iat", 0)):  # a token signed for no one, or someone gone
            raise Unauthorized("The token names no active account.")
    return Caller(
        account=claims["sub"], roles=tuple(claims.get("roles") or ()),
        grid_ids=tuple(claims.get("grid_ids") or ()),
        organization_id=claims.get("organization_id"), resident_id=claims.get("resident_id"),
    )


# -- managing accounts ------------------------------------------------------------------------
# What an admin may change on an account; a link set by hand replaces the demo's lookup hint, or
# unlinking (null) would be undone by the lookup at the next sign-in.
LINKS = {"organization_id": "organization_kind", "resident_id": "resident_name"}


def account_dict(account):
    """An account as the API shows it: everything but the password hash."""
    return {
        "id": account.id, "username": account.username, "roles": list(account.roles or ()),
        "organization_id": account.organization_id, "resident_id": account.resident_id,
        "organization_kind": account.organization_kind, "resident_name": account.resident_name,
        "active": account.active, "created_at": account.created_at.isoformat() if account.created_at else None,
    }


def find_account(session, username):
    account = session.execute(select(Account).where(Account.username == username)).scalar_one_or_none()
    if account is None:
        raise NotFound(f"No account {username}.")
    return account


def _distinct(roles):
    return list(dict.fromkeys(roles))


def create_account(session, data):
    """A new active account from ``{username, password, roles, organization_id?, resident_id?}``."""
    taken = Conflict("An account with this username exists.", {"username": ["Already taken."]})
    if session.execute(select(Account.id).where(Account.username == data["username"])).first():
        raise taken
    account = Account(username=data["username"], password_hash=hash_password(data["password"]),
                      roles=_distinct(data["roles"]), organization_id=data.get("organization_id"),
                      resident_id=data.get("resident_id"), active=True)
    session.add(account)
    try:
        session.flush()
    except IntegrityError:  # the same username created at the same moment by another request
        raise taken from None
    return account


def list_accounts(session, role=None, limit=50, offset=0):
    """``{items, total}`` by username. The role filter runs here, not in SQL: roles are a JSON
    list (no portable SQL test for membership) and a community has tens of accounts, not millions."""
    accounts = session.execute(select(Account).order_by(Account.username)).scalars().all()
    if role:
        accounts = [account for account in accounts if role in (account.roles or ())]
    return {"items": [account_dict(a) for a in accounts[offset:offset + limit]], "total": len(accounts)}


def update_account(session, username, changes):
    """Apply ``changes`` (roles, active, password, organization_id, resident_id) to an account.
    The last active admin keeps the role and stays active (409): otherwise no one could manage
    accounts again short of the command line."""
    if "roles" in changes or "active" in changes:
        # Two admins demoting each other at once must not both see the other still active: the
        # active accounts are locked (in id order) before either looks, so the second waits and
        # then sees the first's change.
        session.execute(select(Account.id).where(Account.active.is_(True)).order_by(Account.id)
                        .with_for_update()).all()
    account = find_account(session, username)
    before = _token_facts(account)
    was_admin = _is_active_admin(account)
    if "roles" in changes:
        account.roles = _distinct(changes["roles"])
    if "active" in changes:
        account.active = changes["active"]
    if "password" in changes:
        account.password_hash = hash_password(changes["password"])
    for link, hint in LINKS.items():
        if link in changes:
            setattr(account, link, changes[link])
            setattr(account, hint, None)
    if was_admin and not _is_active_admin(account) and not any(
            _is_active_admin(other) for other in session.execute(select(Account)).scalars()
            if other.id != account.id):
        raise Conflict("This is the last active admin account; make another admin first.",
                       {"roles" if "roles" in changes else "active": ["The last active admin."]})
    if _token_facts(account) != before:  # the tokens out there speak for an account that is no more
        account.tokens_valid_after = utcnow()
    return account


def _token_facts(account):
    """What a token carries or stands on: a change to any of it revokes the tokens issued before."""
    return (account.active, tuple(account.roles or ()), account.organization_id, account.resident_id,
            account.password_hash)


def _is_active_admin(account):
    return account.active and Role.ADMIN in (account.roles or ())


def bearer_token(header):
    """The token of an ``Authorization: Bearer …`` header."""
    if not header:
        raise Unauthorized("This path needs an Authorization: Bearer token.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


# -- the command line: the first admin of a production installation --------------------------
def _new_password():
    password = os.environ.get("HEYUN_NEW_PASSWORD")
    if password:
        return password
    password = getpass.getpass("New password: ")
    if password != getpass.getpass("Again: "):
        raise SystemExit("The passwords differ; nothing was changed.")
    return password


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gateway.accounts", description=(
        "Create an account or set its password in the gateway's database. The password comes from "
        "HEYUN_NEW_PASSWORD or is asked for."))
    parser.add_argument("command", choices=("create", "password"))
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", dest="roles", action="append", choices=ROLES,
                        help="a role of the new account (repeat for several); create only")
    parser.add_argument("--database-url", help="default: GATEWAY_DATABASE_URL (the gateway's config.yml)")
    args = parser.parse_args(argv)
    if args.command == "create" and not args.roles:
        parser.error("create needs at least one --role")
    try:
        if args.command == "create":
            data = schemas.AccountCreate().load(
                {"username": args.username, "roles": args.roles, "password": _new_password()})
        else:
            data = schemas.AccountUpdate().load({"password": _new_password()})
    except ValidationError as exc:
        raise SystemExit(f"Not changed: {exc.messages}") from None  # messages never echo the password
    engine = make_engine(args.database_url or service_config("gateway")["DATABASE_URL"])
    try:
        with transaction(make_sessionmaker(engine, "gateway")) as session:
            if args.command == "create":
                account = create_account(session, data)
            else:
                account = update_account(session, args.username, data)
            shown = account_dict(account)
    except (Conflict, NotFound) as exc:
        raise SystemExit(str(exc)) from None
    finally:
        engine.dispose()
    print(f"{args.command}: {shown['username']} {shown['roles']} active={shown['active']}")


if __name__ == "__main__":
    sys.exit(main())
