"""Notices from other services' events, driven by the rule table in ``rules.yml`` (data, not code).

A rule names the event it listens to, a notice template filled from the event's data, and an
audience expressed over that data. The rule handler claims each (rule, event) once, so a
redelivered event never sends its notice twice.
"""
from pathlib import Path

import yaml
from sqlalchemy import select

from notify import notices
from notify.contract import Category, Certainty, Severity, Urgency
from notify.models import GridWorkerRecipient, ResidentRecipient, utcnow
from notify.templates import render

RULES_FILE = Path(__file__).with_name("rules.yml")


def load_rules(path=RULES_FILE):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["rules"]


def bindings(rules):
    return sorted({(rule["source"], rule["event_type"]) for rule in rules})


def matching(rules, event):
    return [r for r in rules if (r["source"], r["event_type"]) == (event["source"], event["event_type"])]


def audience_for(session, rule, data):
    """The rule's audience with placeholders filled; empty values (no grid worker) dropped."""
    spec = rule.get("audience") or {}
    fill = lambda values: [v for v in (render(str(x), data) for x in values or []) if v and "{" not in v]  # noqa: E731
    audience = {"accounts": fill(spec.get("accounts")), "roles": list(spec.get("roles") or []),
                "resident_ids": fill(spec.get("resident_ids")), "organization_ids": fill(spec.get("organization_ids"))}
    for resident_id in fill([spec["grid_worker_of"]] if spec.get("grid_worker_of") else []):
        grid = session.execute(select(ResidentRecipient.grid_id).where(
            ResidentRecipient.resident_id == resident_id)).scalar()
        accounts = session.execute(select(GridWorkerRecipient.account).where(
            GridWorkerRecipient.grid_id == grid)).scalars().all() if grid else []
        audience["accounts"] += [a for a in accounts if a]
    return {k: v for k, v in audience.items() if v}


def raise_notice(session, rule, event):
    """The notice ``rule`` makes of ``event``, or None when it addresses nobody."""
    data = event["data"]
    audience = audience_for(session, rule, data)
    if not audience:
        return None
    template = rule["notice"]
    return notices.create(session, notices.NOTIFY, {
        "title": render(template["title"], data), "body": render(template["body"], data),
        "category": template.get("category", Category.OTHER), "severity": template.get("severity", Severity.MINOR),
        "urgency": template.get("urgency", Urgency.EXPECTED), "certainty": template.get("certainty", Certainty.LIKELY),
    }, audience, utcnow())
