"""A throwaway RabbitMQ vhost for tests that start whole processes (the launcher, a platform), so
their queues and exchanges never meet those of another run; created and removed with the broker's
management API."""
import os
import uuid
from urllib.parse import quote, urlsplit

import requests


def rabbit_api():
    """The management API as (base URL, (user, password)); ``RABBIT_API_URI`` or the local one."""
    parts = urlsplit(os.environ.get("RABBIT_API_URI") or "http://guest:guest@127.0.0.1:15672")
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    return base, (parts.username or "guest", parts.password or "guest")


class Vhost:
    """A vhost of its own on the tests' broker, with full permissions for the broker's user;
    ``uri`` is ``amqp_uri`` on it. ``delete()`` when done."""

    def __init__(self, amqp_uri, prefix="heyun-e2e"):
        self.name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.api, self.auth = rabbit_api()
        user = urlsplit(amqp_uri).username or "guest"
        vhost = quote(self.name, safe="")
        self._put(f"/api/vhosts/{vhost}", {})
        self._put(f"/api/permissions/{vhost}/{quote(user, safe='')}",
                  {"configure": ".*", "write": ".*", "read": ".*"})
        self.uri = urlsplit(amqp_uri)._replace(path="/" + vhost).geturl()

    def _put(self, path, body):
        response = requests.put(self.api + path, json=body, auth=self.auth, timeout=10)
        response.raise_for_status()

    def delete(self):
        requests.delete(f"{self.api}/api/vhosts/{quote(self.name, safe='')}",
                        auth=self.auth, timeout=10)
