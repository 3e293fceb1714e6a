"""Accounts and bearer tokens: password hashing (scrypt with a per-account salt), signing in, and
the HS256 JWT that carries the caller (account, roles, grids, organisation, resident).

The token carries the whole ``Caller`` so a request needs no database read to know who asks;
the price is that a change of role or grid takes effect at the next sign-in (tokens are short).
"""
import hashlib
import hmac
import os
import time

import jwt
from sqlalchemy import select

from gateway.exceptions import Unauthorized
from gateway.models import Account
from heyun.identity import Caller

ROLES = (
    "admin", "staff", "grid_worker", "property_manager", "water_utility_staff", "canteen_staff",
    "mediator", "police", "patrol_member", "volunteer", "resident",
)
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
    now = int(now if now is not None else time.time())
    claims = {
        "sub": caller.account, "roles": list(caller.roles), "grid_ids": list(caller.grid_ids),
        "organization_id": caller.organization_id, "resident_id": caller.resident_id,
        "iat": now, "exp": now + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token, secret):
    """The ``Caller`` a valid, unexpired token speaks for; ``Unauthorized`` otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; sign in again.") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid.") from None
    return Caller(
        account=claims["sub"], roles=tuple(claims.get("roles") or ()),
        grid_ids=tuple(claims.get("grid_ids") or ()),
        organization_id=claims.get("organization_id"), resident_id=claims.get("resident_id"),
    )


def bearer_token(header):
    """The token of an ``Authorization: Bearer …`` header."""
    if not header:
        raise Unauthorized("This path needs an Authorization: Bearer token.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()
