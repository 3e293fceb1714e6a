"""The platform's one clock: every instant it makes is aware and in UTC.

A module of its own, with no dependencies, so the event envelope (importable without a
database) and the database layer read the same function."""
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc)
