"""Signing in and the gateway's own accounts: the token, accounts, unlocking, the audit of failed
sign-ins.

Who may do what:
- signing in (``POST /auth/token``) needs no token, only the password;
- accounts are created and changed by admins only: an account is a key to everything its roles
  open, so handing them out stays with the role that is answerable for it;
- accounts are listed and read by admins and staff too, because answering "who can sign in as the
  water plant?" is part of staff's daily work, and an account shows no secret;
- unlocking a username and reading the failed sign-ins are for admins, who hand out the accounts.
"""
import time

from marshmallow import ValidationError

from gateway import accounts, links, schemas, throttle
from heyun.rpc import ServiceRpc
from gateway.edge.http import BASE, api
from gateway.models import Account
from gateway.routes import ACCOUNT_MANAGERS, ACCOUNT_READERS
from heyun.errors import NotFound
from community.policy import SYSTEM


class AuthRoutes:
    registry = ServiceRpc("registry")  # an account's links: resolved at sign-in, checked when set

    @api("POST", BASE + "/auth/token", public=True, body=schemas.TokenRequest, response=schemas.TokenResponse,
         tag="auth", summary="Sign in: a bearer token for the other paths. Repeated failures are throttled (429).",
         problems={401: "Wrong username or password, or the account is inactive",
                   429: "Too many failed sign-ins; try again later"})
    def issue_token(self, request, body):
        self.context.act_as(SYSTEM)  # the link lookups are the gateway's own, not the user's
        # Issued as of now, before the account is read: an admin's change committed while this
        # sign-in waits on the registry then revokes the token (a later iat would slip past it).
        issued_at = time.time()
        account = throttle.sign_in(self.db.Session, body["username"], body["password"],
                                   request.client_address, throttle.rules_from(self.config))
        wanted = links.missing_links(account)
        found = links.resolve(self.registry, account, wanted) if wanted else {"grid_ids": []}
        if found.keys() - {"grid_ids"}:
            with self.db.transaction() as session:
                stored = session.get(Account, account.id)
                for key in found.keys() - {"grid_ids"}:
                    setattr(stored, key, found[key])
                account = stored
        ttl = int(self.config["TOKEN_TTL_SECONDS"])
        token = accounts.issue_token(accounts.caller_for(account, found["grid_ids"]),
                                     self.config["TOKEN_SECRET"], ttl, now=issued_at)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    @api("GET", BASE + "/accounts", roles=ACCOUNT_READERS, query=schemas.AccountQuery,
         response=schemas.AccountList, tag="auth", summary="Accounts by username; `role` narrows them.")
    def list_accounts(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        with self.db.transaction() as session:
            return accounts.list_accounts(session, filters.get("role"), limit, offset)

    @api("GET", BASE + "/accounts/<username>", roles=ACCOUNT_READERS, response=schemas.Account, tag="auth")
    def get_account(self, request, username):
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.find_account(session, username))

    @api("POST", BASE + "/accounts", roles=ACCOUNT_MANAGERS, body=schemas.AccountCreate, status=201,
         response=schemas.Account, tag="auth",
         summary="Create an account; a username taken is a 409. Links are checked with the registry.")
    def create_account(self, request, body):
        self._check_links(body)
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.create_account(session, body))

    @api("PATCH", BASE + "/accounts/<username>", roles=ACCOUNT_MANAGERS, body=schemas.AccountUpdate,
         response=schemas.Account, tag="auth",
         summary="Change roles, links or the password, or deactivate; the tokens issued before stop working.")
    def update_account(self, request, username, body):
        self._check_links(body)
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.update_account(session, username, body))

    @api("POST", BASE + "/accounts/<username>/unlock", roles=ACCOUNT_MANAGERS, response=schemas.Unlocked,
         tag="auth", summary="Let a username locked by failed sign-ins (429) sign in again at once.")
    def unlock_account(self, request, username):
        with self.db.transaction() as session:
            accounts.find_account(session, username)
            throttle.unlock(session, username)
        return {"username": username, "unlocked": True}

    @api("GET", BASE + "/sign-in-failures", roles=ACCOUNT_MANAGERS, query=schemas.SignInFailureQuery,
         response=schemas.SignInFailureList, tag="auth",
         summary="Wrong usernames or passwords, newest first: username, client address, time.")
    def list_sign_in_failures(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        with self.db.transaction() as session:
            return throttle.failures(session, filters.get("username"), limit, offset)

    def _check_links(self, body):
        """An account linked to an organisation or resident the registry does not know would
        sign in speaking for no one: a 422 naming the field instead."""
        lookups = {"organization_id": self.registry.get_organization, "resident_id": self.registry.get_resident}
        for field, look_up in lookups.items():
            if body.get(field):
                try:
                    look_up(body[field])
                except NotFound:
                    raise ValidationError({field: ["The registry has nothing with this id."]}) from None
