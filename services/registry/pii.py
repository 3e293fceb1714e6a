"""Who sees registry personal data unmasked, with every reveal audited.

The registry stores ID and phone numbers as ciphertext beside their masked form (``heyun.pii``),
so an ordinary listing decrypts nothing; ``Viewer`` decrypts only for roles that need the numbers.
"""
from heyun.identity import HEALTH_TAGS


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
                 "fields": ",".join(sorted(fields)), "at": now}
                for (kind, subject), fields in self.revealed.items()])
        self.revealed = {}

    def may_reveal(self, subject_type, subject_id):
        if subject_type == "resident" and self.caller.resident_id == subject_id:
            return True  # one's own numbers
        return self.caller.may_see_pii

    def visible_tags(self, resident_id, tags):
        """All of them for a role that cares for residents (or the resident); no health tags else."""
        if self.caller.may_see_health or self.caller.resident_id == resident_id:
            return tags
        return [tag for tag in tags if tag not in HEALTH_TAGS]

    def used(self, subject_type, subject_id, field):
        """Audit a use of ``field`` unmasked that shows nothing (a person found by their whole
        number), as a reveal is audited."""
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)

    def show(self, subject_type, subject_id, field, cipher, masked):
        if cipher is None or not self.may_reveal(subject_type, subject_id):
            return masked
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)
        return self.protector.decrypt(cipher)
