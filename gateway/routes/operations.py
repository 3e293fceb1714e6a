"""Operations and documentation: readiness, the OpenAPI document, the event catalogue
(``/healthz`` and ``/metrics`` are served by the web server itself, ``gateway.edge.http``).

Who may do what: ``/readyz`` needs no token (it is an orchestrator's probe and says only what is
down); the OpenAPI document and the event catalogue need a token like every other ``/api/v1``
path, of any role (docs/api.md says so).

Both readiness and the catalogue go over the service list (``community.services``): a service
listed there is pinged and its events are merged, with no name written here.
"""
from werkzeug.wrappers import Response

from community.services import SERVICES, names
from gateway import schemas
from gateway.dependencies import Readiness
from heyun.rpc import ClusterRpc
from gateway.edge import openapi
from gateway.edge.http import BASE, api
from gateway.edge.problems import JSON_TYPE, dumps


class OperationsRoutes:
    readiness = Readiness()
    services = ClusterRpc()

    @api("GET", "/readyz", public=True, response=schemas.Health, tag="operations",
         summary="Ready: the broker and every service answer.")
    def readyz(self, request):
        down = self.readiness()
        if down:
            return Response(dumps({"type": "about:blank", "title": "Service unavailable", "status": 503,
                                   "detail": "Not reachable: " + ", ".join(down) + ".", "down": down}),
                            status=503, content_type="application/problem+json")
        return {"status": "ready", "down": []}

    @api("GET", BASE + "/openapi.json", tag="operations", summary="This document.")
    def openapi_document(self, request):
        return Response(dumps(openapi.document(type(self))), content_type=JSON_TYPE)

    @api("GET", BASE + "/events/catalogue", tag="events",
         summary=f"One AsyncAPI document of every service's events ({', '.join(names(SERVICES))}); "
                 "`x-services` names the services merged.")
    def event_catalogue(self, request):
        # Each with the RPC deadline: a service that does not answer makes the whole a 503, since
        # a catalogue silently missing its events would mislead an integrator.
        return merge_catalogues({name: self.services[name].catalogue() for name in names(SERVICES)})


def merge_catalogues(documents):
    """Several services' AsyncAPI documents as one: each service publishes on its own exchange,
    so channels never clash; a message name two services share is kept apart by its service."""
    merged, seen = None, {}
    for service, document in documents.items():
        if merged is None:
            merged = {key: value for key, value in document.items() if key not in ("channels", "components")}
            merged["info"] = dict(document.get("info") or {}, title="Heyun events")
            merged.update(channels={}, components={"messages": {}, "schemas": {}}, **{"x-services": []})
        merged["x-services"].append(service)
        renames = {}
        for name, message in (document.get("components", {}).get("messages") or {}).items():
            key = name if name not in seen else f"{service}.{name}"
            renames[name] = key
            seen[key] = service
            merged["components"]["messages"][key] = message
        merged["components"]["schemas"].update(document.get("components", {}).get("schemas") or {})
        for channel, item in (document.get("channels") or {}).items():
            ref = item.get("subscribe", {}).get("message", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name in renames and renames[name] != name:
                item = dict(item, subscribe=dict(item["subscribe"], message={"$ref": f"#/components/messages/{renames[name]}"}))
            merged["channels"][channel] = item
    return merged
