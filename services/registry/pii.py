"""Who sees registry personal data unmasked, with every reveal audited, and the audit log itself.

The registry stores ID and phone numbers as ciphertext beside their masked form (``heyun.pii``),
so an ordinary listing decrypts nothing; ``Viewer`` decrypts only for roles that need the numbers.
The log (``pii_access_log``) says who saw which fields of whom, when and through which route; it
holds ids, never the numbers. Admins read it (``access_log``); rows older than the retention
period are deleted (``expire_access_log``, hourly).
"""
from datetime import timedelta

from sqlalchemy import delete, select

from community import policy
from community.roles import Role
from heyun.errors import Forbidden
from heyun.identity import ROUTE
from registry.contract import PiiSubject

# How long the audit log keeps a row: three years (and a leap day), unless PII_AUDIT_RETENTION_DAYS says.
RETENTION_DAYS = 1096


class Viewer:
    """Shows personal numbers to one caller: masked unless the role needs them, each reveal audited.

    Use it as a context manager: reveals are collected and written to the audit log in one
    insert when the block ends, one row per person shown with the fields revealed.
    """

    def __init__(self, session, caller, protector):
        self.session = session
        self.caller = caller
        self.protector = protector
        self.revealed = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None and self.revealed:
            from registry.models import PiiAccess, new_id, utcnow

            now = utcnow()
            self.session.execute(PiiAccess.__table__.insert(), [
                {"id": new_id(), "account": self.caller.account, "subject_type": kind, "subject_id": subject,
                 "fields": ",".join(sorted(fields)), "route": self.caller.extra.get(ROUTE), "at": now}
                for (kind, subject), fields in self.revealed.items()])
        self.revealed = {}

    def access_to(self, resident_id):
        """What the access policy lets the caller see of this resident."""
        return policy.access_to(self.caller, resident_id)

    def used(self, subject_type, subject_id, field):
        """Audit a use of ``field`` unmasked that shows nothing (a person found by their whole
        number), as a reveal is audited."""
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)

    def show(self, subject_type, subject_id, field, cipher, masked, allowed):
        """``field`` in clear if the policy ``allowed`` it (audited), else its masked form."""
        if cipher is None or not allowed:
            return masked
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)
        return self.protector.decrypt(cipher)


def access_dict(row):
    return {"id": row.id, "account": row.account, "subject_type": row.subject_type,
            "subject_id": row.subject_id, "fields": row.fields.split(","), "route": row.route,
            "at": row.at.isoformat()}


def access_log(session, caller, filters, paging):
    """One page of the audit log, newest first; admins only (who read whose numbers is itself
    sensitive: it maps staff to the people they looked at)."""
    from registry.models import PiiAccess
    from heyun.paging import page

    if not caller.has_role(Role.ADMIN):
        raise Forbidden("Only admins may read the personal-data audit log.")
    query = select(PiiAccess).order_by(PiiAccess.at.desc(), PiiAccess.id)
    if "account" in filters:
        query = query.where(PiiAccess.account == filters["account"])
    if "resident_id" in filters:
        query = query.where(PiiAccess.subject_type == PiiSubject.RESIDENT, PiiAccess.subject_id == filters["resident_id"])
    if "since" in filters:
        query = query.where(PiiAccess.at >= filters["since"])
    if "until" in filters:
        query = query.where(PiiAccess.at < filters["until"])
    return page(session, query, paging, access_dict)


def expire_access_log(session, retention_days, now=None):
    """Delete the rows older than ``retention_days``; returns how many went."""
    from registry.models import PiiAccess, utcnow

    cutoff = (now or utcnow()) - timedelta(days=int(retention_days))
    return session.execute(delete(PiiAccess).where(PiiAccess.at < cutoff)).rowcount
