"""Loading input at a service boundary: marshmallow errors become ``InvalidInput`` naming fields,
and every list call takes the same paging."""
import re

from marshmallow import Schema, ValidationError, fields, validate

from heyun.errors import from_marshmallow

# What no text a person sends may hold, in any service: C0 controls but tab and line breaks
# (PostgreSQL refuses NUL; XML, as in a CAP export, refuses every other one) and lone UTF-16
# surrogates (JSON's "\ud800" escape decodes to one; UTF-8 cannot carry it).
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Contains a control character or invalid Unicode (only tab and line breaks are allowed)."


def load(schema, data, partial=False):
    """``schema.load`` that raises the platform's ``InvalidInput`` instead of marshmallow's error."""
    try:
        return schema.load(data if data is not None else {}, partial=partial)
    except ValidationError as exc:
        raise from_marshmallow(exc) from None


def load_changes(schema, data):
    """A partial update: ``data`` loaded through ``schema`` with nothing required and the
    defaults of fields not sent dropped again, so a field not sent is left as it is."""
    loaded = load(schema, data, partial=True)
    return {key: value for key, value in loaded.items() if key in (data or {})}


# The one paging of every list, at the gateway and in every service (an RPC caller that bypasses
# the gateway gets the same 422). The offset has a ceiling because the database's is 2**63 - 1
# (a larger one overflowed in the driver, a 502); ten million rows is past any list here.
MAX_LIMIT = 500
MAX_OFFSET = 10_000_000


class Paging(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET))


def listing(filter_schema, filters, limit, offset):
    """Load a list call's filters and page: ``(filters, {"limit", "offset"})``."""
    loaded = load(filter_schema(), filters) if filter_schema else {}
    return loaded, load(Paging(), {"limit": limit, "offset": offset})
