"""Who sees registry personal data unmasked, with every reveal audited.

The registry stores ID and phone numbers as ciphertext beside their masked form (``heyun.pii``),
so an ordinary listing decrypts nothing; ``Viewer`` decrypts only for roles that need the numbers.
"""
from heyun import policy


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

    def access_to(self, resident_id):
        """What the access policy lets the caller see of this resident."""
        return policy.access_to(self.caller, resident_id)

    def show(self, subject_type, subject_id, field, cipher, masked, allowed):
        """``field`` in clear if the policy ``allowed`` it (audited), else its masked form."""
        if cipher is None or not allowed:
            return masked
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)
        return self.protector.decrypt(cipher)
