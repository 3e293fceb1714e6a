"""Personal information at rest: encrypted, found by keyed hash, decrypted only where a role needs it.

China's PIPL treats ID and phone numbers as sensitive. Services store each as Fernet ciphertext
(plus a masked form for display); an ID number is looked up and kept unique through an HMAC
digest that cannot be reversed without the key. The key is the platform's ``HEYUN_PII_KEY``:
the registry encrypts, and notify decrypts a phone only to hand it to the SMS gateway (and
health tags only to select the residents a notice concerns).
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

    def encrypt_list(self, words):
        """Words (a resident's health tags) as one token, ``None`` for none: the form events carry."""
        return self.encrypt(",".join(words)) if words else None

    def decrypt_list(self, token):
        return [word for word in (self.decrypt(token) or "").split(",") if word]


class PiiProtection(DependencyProvider):
    """Nameko dependency: the service's ``Protector``, built from ``PII_KEY`` at setup."""

    def setup(self):
        self.protector = Protector(self.container.config["PII_KEY"])

    def get_dependency(self, worker_ctx):
        return self.protector
