"""Prometheus metrics of the HTTP API: requests by route and status, and their latency.

Each gateway container gets its own ``CollectorRegistry`` (not the process-wide default), so
several containers in one test process, or a restart, never collide on metric names. Routes are
the URL rules (``/api/v1/residents/<resident_id>``), never raw paths, so ids do not explode the
number of series.
"""
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest


class HttpMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "heyun_gateway_requests_total", "HTTP requests answered, by route and status.",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "heyun_gateway_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

    def observe(self, method, route, status, seconds):
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self):
        return generate_latest(self.registry)
