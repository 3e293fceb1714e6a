"""Clients the tests talk to a running service through: over AMQP (``RpcClient``, as a caller) and
over HTTP (``HttpClient``, signed in as a demo account), and what every HTTP test checks of an
answer (``assert_problem``) or of a list (``all_items``)."""
import requests
from nameko.standalone.rpc import ServiceRpcProxy

from heyun.identity import CONTEXT_KEY

PROBLEM_JSON = "application/problem+json"
TOKEN_PATH = "/api/v1/auth/token"
_DEFAULT = object()


class RpcClient:
    """``client.call("method", *args, caller=…)`` on a running service, the caller travelling in the
    context data as the gateway sends it (``caller=None``: a message without one). ``amqp_config``
    is the container's config, for tests that open their own proxies or queues."""

    def __init__(self, service, config, caller=None, timeout=None):
        self.service, self.amqp_config = service, config
        self.caller, self.timeout = caller, timeout

    def call(self, method, *args, caller=_DEFAULT, **kwargs):
        caller = self.caller if caller is _DEFAULT else caller
        context = {CONTEXT_KEY: caller.to_json()} if caller else {}
        with ServiceRpcProxy(self.service, self.amqp_config, context_data=context,
                             timeout=self.timeout) as proxy:
            return getattr(proxy, method)(*args, **kwargs)


class HttpClient:
    """A ``requests`` session on one server: ``client.get(path, as_user="staff")`` signs in as that
    demo account once (password grant on ``/api/v1/auth/token``) and sends its bearer token.
    ``prefix`` goes before every relative path (the end-to-end tests write paths under /api/v1);
    ``signed_in(user)`` is a view that acts as ``user`` unless told otherwise, sharing the session
    and the tokens. (Nameko's own ``web_session`` fixture does not work with werkzeug 3.)"""

    def __init__(self, base_url, password, prefix="", user=None, timeout=60, _shared=None):
        self.base_url, self.password, self.prefix = base_url, password, prefix
        self.user, self.timeout = user, timeout
        self.session, self.tokens = _shared or (requests.Session(), {})

    def signed_in(self, user):
        return HttpClient(self.base_url, self.password, self.prefix, user, self.timeout,
                          _shared=(self.session, self.tokens))

    def url(self, path):
        return path if "://" in path else self.base_url + self.prefix + path

    def token(self, username, password=None):
        if username not in self.tokens:
            response = self.session.post(self.base_url + TOKEN_PATH, timeout=self.timeout,
                                         json={"username": username, "password": password or self.password})
            assert response.status_code == 200, f"sign-in as {username}: {response.text}"
            self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def request(self, method, path, as_user=None, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        user = as_user or self.user
        if user:
            headers.setdefault("Authorization", f"Bearer {self.token(user)}")
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.url(path), headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def assert_problem(response, status):
    """``response`` is an RFC 9457 problem with ``status``, and leaks no traceback; → its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers["Content-Type"]
    body = response.json()
    assert body["status"] == status and {"type", "title", "detail"} <= set(body), body
    assert "Traceback" not in response.text
    return body


def all_items(client, path, as_user=None, page_size=100, **params):
    """Every item of a list route as ``as_user`` (or the client's own user) sees it, filtered by
    ``params``, paging with limit/offset as docs/api.md says; checks that the pages add up to the
    ``total`` they announce."""
    items = []
    while True:
        response = client.get(path, params={**params, "limit": page_size, "offset": len(items)}, as_user=as_user)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            assert len(items) == page["total"], f"{path}: {len(items)} items, total {page['total']}"
            return items
