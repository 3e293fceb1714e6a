"""Loading input at a service boundary: marshmallow errors become ``InvalidInput`` naming fields,
and every list call takes the same paging."""
import base64
import binascii
import json
import re
import zlib

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from heyun.errors import InvalidInput, from_marshmallow

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
MAX_CURSOR = 2000  # characters: a few keys (ids, names, numbers), with room to spare


# A cursor (heyun.paging) is the URL-safe base64 of a JSON list: a fingerprint of the list's order,
# then the key values of the last row of the page before. Its form is checked here, where the
# gateway can check it too; whether it fits the list, where the list is queried.
def order_fingerprint(keys):
    """A short check of the order a cursor was made for (its key columns' names)."""
    return zlib.crc32(",".join(str(key) for key in keys).encode()) & 0xFFFF


def encode_cursor(values, keys=()):
    payload = json.dumps([order_fingerprint(keys), *values], ensure_ascii=False, separators=(",", ":"),
                         default=lambda v: v.isoformat())
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The cursor's ``[fingerprint, *values]``, or ``InvalidInput`` naming ``cursor`` if it is
    not one this platform wrote (only its form is checked here; ``page`` checks it fits the list)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = None
    if not (isinstance(decoded, list) and len(decoded) >= 2 and isinstance(decoded[0], int)
            and all(_storable(v) for v in decoded[1:])):
        raise bad_cursor()
    return decoded


def _storable(value):
    """A key value the database can be asked about: a string it can hold, an integer in bigint's
    range (a crafted cursor is refused here, not turned into the driver's error, a 500)."""
    if isinstance(value, str):
        return not UNSTORABLE.search(value)
    return isinstance(value, int) and not isinstance(value, bool) and -2 ** 63 <= value < 2 ** 63


def bad_cursor(why="Not a cursor this list gave out (use next_cursor from a previous page)."):
    return InvalidInput("The cursor is not valid.", {"cursor": [why]})


def _well_formed_cursor(value):
    try:
        decode_cursor(value)
    except InvalidInput as exc:
        raise ValidationError(exc.errors["cursor"]) from None


class Paging(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET))


class KeysetPaging(Paging):
    """The paging of a list that also pages by cursor (``heyun.paging``): a list with no cursor
    mode takes ``Paging``, which refuses a cursor as an unknown field rather than ignore it."""

    cursor = fields.String(load_default=None, validate=[validate.Length(1, MAX_CURSOR), _well_formed_cursor],
                           metadata={"description": "Page on from here: the next_cursor of the page before "
                                                    "(as fast at the millionth row as at the first, unlike offset)."})

    @validates_schema
    def one_way_of_paging(self, data, **kwargs):
        if data.get("cursor") and data.get("offset"):
            raise ValidationError("Give a cursor or an offset, not both.", "cursor")


def listing(filter_schema, filters, limit, offset, cursor=None, keyset=False):
    """Load a list call's filters and page: ``(filters, {"limit", "offset"[, "cursor"]})``.

    A query string carries the cursor among the filters (the gateway passes its query on as
    ``filters``), so a ``cursor`` there is taken as the page's. ``keyset`` says the list pages by
    cursor too; on one that does not, a cursor is a 422 naming it, not ignored.
    """
    filters = dict(filters or {})
    cursor = filters.pop("cursor", None) or cursor
    loaded = load(filter_schema(), filters) if filter_schema else {}
    paging = {"limit": limit, "offset": offset}
    if cursor is not None:
        paging["cursor"] = cursor
    return loaded, load(KeysetPaging() if keyset else Paging(), paging)
