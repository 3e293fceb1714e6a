"""Personal information at rest: ID and phone numbers encrypted, found by keyed hash, shown masked.

China's PIPL treats ID and phone numbers as sensitive. The registry stores each as Fernet
ciphertext plus its masked form, so an ordinary listing never decrypts anything; an ID number
is looked up (and kept unique) through an HMAC digest that cannot be reversed without the key.
"""
import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from nameko.extensions import DependencyProvider


class Protector:
    def __init__(self, key):
        raw = base64.urlsafe_b64decode(key)
        if len(raw) != 32:
            raise ValueError("PII_KEY must be urlsafe base64 of 32 bytes")
        self._fernet = Fernet(key)
        # A separate key for digests, so the lookup hash and the cipher never share material.
        self._digest_key = hashlib.sha256(b"heyun-digest:" + raw).digest()

    def digest(self, value):
        return hmac.new(self._digest_key, value.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, value):
        return self._fernet.encrypt(value.encode()).decode() if value else None

    def decrypt(self, token):
        return self._fernet.decrypt(token.encode()).decode() if token else None


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

    def show(self, subject_type, subject_id, field, cipher, masked):
        if cipher is None or not self.may_reveal(subject_type, subject_id):
            return masked
        self.revealed.setdefault((subject_type, subject_id), set()).add(field)
        return self.protector.decrypt(cipher)


class PiiProtection(DependencyProvider):
    """Nameko dependency: the service's ``Protector``, built from ``PII_KEY`` at setup."""

    def setup(self):
        self.protector = Protector(self.container.config["PII_KEY"])

    def get_dependency(self, worker_ctx):
        return self.protector
