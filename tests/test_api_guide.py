"""docs/api.md, the client developers' guide, names only routes the gateway serves: every
`METHOD /path` in it is in the OpenAPI document (built from the routes, no services needed).
The guide need not name every route; what it names must exist."""
import re

from gateway.edge.openapi import document
from gateway.service import GatewayService
from heyun.config import ROOT

GUIDE = ROOT / "docs" / "api.md"
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`?),]*)")


def guide_routes():
    return {(method, path) for method, path in ROUTE.findall(GUIDE.read_text(encoding="utf-8"))}


def served_routes():
    return {(method.upper(), path) for path, operations in document(GatewayService)["paths"].items()
            for method in operations}


def test_every_route_the_guide_names_is_served():
    named = guide_routes()
    assert len(named) >= 40  # the parse found the guide's routes, not nothing
    assert sorted(named - served_routes()) == []


def test_the_readme_points_to_the_guide():
    assert "docs/api.md" in (ROOT / "README.md").read_text(encoding="utf-8")
