"""Organisations the community works with (property management, the water plant, the police
station, the legal advisor…) and the catalogue of resident service items."""
from sqlalchemy import select

from community import policy
from heyun.errors import InvalidInput
from heyun.netguard import AddressRefused, OutboundGuard
from heyun.outbox import record
from registry import idnumbers
from registry.contract import ORGANIZATION_REGISTERED, ORGANIZATION_UPDATED
from registry.models import Organization, ServiceItem
from heyun.paging import page
from registry.places import get_or_404, refuse_taken, require_office

UPDATABLE = ("name", "contacts", "webhook_url")  # the kind never changes: accounts link by it
PUBLIC_ONLY = OutboundGuard()  # no allow-list: webhooks to public addresses only


def organization_dict(org, caller):
    contacts = []
    for contact in org.contacts or []:
        shown = dict(contact)
        # Work contacts of organisations are masked for roles without PII access, like residents'.
        if not policy.may_see_pii(caller) and shown.get("phone"):
            shown["phone"] = idnumbers.mask_phone(shown["phone"])
        contacts.append(shown)
    return {"id": org.id, "name": org.name, "kind": org.kind, "contacts": contacts, "webhook_url": org.webhook_url}


def organization_payload(org):
    return {"organization_id": org.id, "name": org.name, "kind": org.kind,
            "contact_names": [c["name"] for c in org.contacts or []],
            "emails": [c["email"] for c in org.contacts or [] if c.get("email")],
            "webhook_url": org.webhook_url}


def list_organizations(session, caller, filters, paging):
    query = select(Organization)
    if filters.get("kind"):
        query = query.where(Organization.kind == filters["kind"])
    return page(session, query, paging, lambda o: organization_dict(o, caller),
                keys=[Organization.kind, Organization.name])  # names are unique


def get_organization(session, caller, organization_id):
    return organization_dict(get_or_404(session, Organization, organization_id, "organisation"), caller)


def refuse_taken_name(session, name):
    refuse_taken(session, Organization.name, name, "An organisation with this name exists.")


def check_webhook_url(url, guard):
    """notify will POST to this URL from inside the platform: one that is, or resolves to, a
    loopback, private, link-local or metadata address is refused here (and again on sending)."""
    if url is None:
        return
    try:
        guard.check_url(url)
    except AddressRefused as error:
        raise InvalidInput("The webhook URL points inside.", {"webhook_url": [str(error)]}) from None


def create_organization(session, caller, data, guard=PUBLIC_ONLY):
    require_office(caller, "register or change organisations")
    check_webhook_url(data.get("webhook_url"), guard)  # before the database: it may ask DNS
    refuse_taken_name(session, data["name"])
    org = Organization(name=data["name"], kind=data["kind"], contacts=data.get("contacts") or [],
                       webhook_url=data.get("webhook_url"))
    session.add(org)
    session.flush()
    record(session, ORGANIZATION_REGISTERED, organization_payload(org))
    return organization_dict(org, caller)


def update_organization(session, caller, organization_id, changes, guard=PUBLIC_ONLY):
    """Change what ``changes`` names (of ``UPDATABLE``); a change is announced, no change is not."""
    require_office(caller, "register or change organisations")
    check_webhook_url(changes.get("webhook_url"), guard)  # before the database: it may ask DNS
    org = get_or_404(session, Organization, organization_id, "organisation")
    changed = [key for key in UPDATABLE if key in changes and changes[key] != getattr(org, key)]
    if "name" in changed:
        refuse_taken_name(session, changes["name"])
    for key in changed:
        setattr(org, key, changes[key])
    if changed:
        session.flush()
        record(session, ORGANIZATION_UPDATED, organization_payload(org))
    return organization_dict(org, caller)


def service_item_dict(item):
    return {"id": item.id, "code": item.code, "name": item.name, "category": item.category,
            "materials": item.materials, "time_limit_days": item.time_limit_days}


def list_service_items(session, paging):
    return page(session, select(ServiceItem), paging, service_item_dict, keys=[ServiceItem.code])


def get_service_item(session, item_id):
    return service_item_dict(get_or_404(session, ServiceItem, item_id, "service item"))
