"""Notices rendered for one recipient: placeholders filled, in Chinese or, where the recipient
prefers it and the issuer wrote one, English."""

from registry.contract import Language


class _Blank(dict):
    def __missing__(self, key):
        return "{" + key + "}"  # an unknown placeholder stays visible rather than failing the send


def render(text, values):
    try:
        return text.format_map(_Blank(values))
    except (ValueError, IndexError):  # stray braces in a body: send it as written
        return text


def personalise(notice, resident=None, organization=None, fallback_name=""):
    """``(title, body, language)`` of ``notice`` for this resident or organisation."""
    english = resident is not None and resident.language == Language.EN and bool(notice.title_en)
    values = {"name": resident.name if resident else (organization.name if organization else fallback_name),
              "building": resident.building_number if resident else "",
              "unit": resident.unit if resident else "", "floor": resident.floor if resident else "",
              "room": resident.room if resident else ""}
    title = notice.title_en if english else notice.title
    body = (notice.body_en or notice.body) if english else notice.body
    return render(title, values), render(body, values), Language.EN if english else Language.ZH
