"""The HTTP edge: what every route gets before and after the service's method runs, and nothing
about any one domain. ``http`` (the ``api`` decorator and the request pipeline), ``problems``
(exceptions → problem+json), ``idempotency`` (``Idempotency-Key``), ``revocation`` (refused
tokens), ``metrics`` (Prometheus) and ``openapi`` (the document built from the routes)."""
