"""Mechanics of a service's published contract (``services/<name>/contract.py``).

A contract writes each vocabulary once, as an ``enum.StrEnum``; its schemas check a field against
the enum's words with ``one_of``, so the OpenAPI and AsyncAPI documents generated from them list
the words as the field's ``enum``, and everything else refers to the members, never to the text.
"""
from marshmallow import validate


def one_of(words, **kwargs):
    """A validator accepting ``words`` (a StrEnum, or some of its members) and nothing else."""
    # The values, not the members: an Enum class refuses ``in`` for a plain string before
    # Python 3.12, and apispec copies the choices into the documents as they are.
    return validate.OneOf([str(word) for word in words], **kwargs)
