"""CAP 1.2 export: documents that the official OASIS schema accepts, carrying what receivers read."""
from datetime import datetime, timezone

import pytest
from lxml import etree

from heyun.errors import InvalidInput
from heyun.schemas import load
from notify.cap import CAP_NAMESPACE, cap_datetime, notice_to_cap, validate_cap
from notify.contract import Acknowledgement, NoticeCancel, NoticeCreate, NoticeUpdate

NS = {"cap": CAP_NAMESPACE}

OUTAGE = {
    "id": "7d1f0c8e-4a52-4c1b-9a0e-2f3b5d6c7e81",
    "title": "停水通知",
    "body": "因管网施工，7月5日8:00至18:00停水，4层及以上水压不足，请提前储水。",
    "category": "water_outage",
    "severity": "Moderate",
    "urgency": "Expected",
    "msg_type": "Alert",
    "sent_at": "2021-07-04T18:30:00.123456+08:00",
    "onset": "2021-07-05T08:00:00+08:00",
    "ends": "2021-07-05T18:00:00+08:00",
    "expires": datetime(2021, 7, 5, 10, 0, tzinfo=timezone.utc),  # 18:00 in Jinan
    "issuer_name": "王河社区居委会",
    "area_description": "王河社区 3号楼、5号楼 4层及以上",
}


def parse(document):
    return etree.fromstring(document)


def test_outage_notice_exports_as_valid_cap_in_chinese():
    document = notice_to_cap(OUTAGE)

    assert validate_cap(document) == []
    alert = parse(document)
    assert alert.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert alert.findtext("cap:identifier", namespaces=NS) == OUTAGE["id"]
    assert alert.findtext("cap:sender", namespaces=NS) == "notices@wanghe.heyun"
    assert alert.findtext("cap:sent", namespaces=NS) == "2021-07-04T18:30:00+08:00"  # no fraction
    assert alert.findtext("cap:status", namespaces=NS) == "Actual"
    assert alert.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert alert.findtext("cap:scope", namespaces=NS) == "Public"
    [info] = alert.findall("cap:info", NS)
    assert info.findtext("cap:language", namespaces=NS) == "zh-CN"
    assert [c.text for c in info.findall("cap:category", NS)] == ["Infra"]
    assert info.findtext("cap:headline", namespaces=NS) == "停水通知"
    assert info.findtext("cap:description", namespaces=NS) == OUTAGE["body"]
    assert info.findtext("cap:onset", namespaces=NS) == "2021-07-05T08:00:00+08:00"
    assert info.findtext("cap:expires", namespaces=NS) == "2021-07-05T18:00:00+08:00"
    assert info.findtext("cap:senderName", namespaces=NS) == "王河社区居委会"
    [ends] = [p for p in info.findall("cap:parameter", NS) if p.findtext("cap:valueName", namespaces=NS) == "heyun:eventEnds"]
    assert ends.findtext("cap:value", namespaces=NS) == "2021-07-05T18:00:00+08:00"
    assert info.findtext("cap:area/cap:areaDesc", namespaces=NS) == "王河社区 3号楼、5号楼 4层及以上"
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "停水通知".encode("utf-8") in document


def test_update_carries_msgtype_and_references_and_validates():
    update = {**OUTAGE, "id": "a9b8c7d6-0000-4000-8000-000000000002", "msg_type": "Update",
              "title": "停水时间延长", "body": "停水延长至20:00。",
              "sent_at": "2021-07-05T12:00:00+08:00",
              "references": [{"id": OUTAGE["id"], "sent": OUTAGE["sent_at"]}]}
    document = notice_to_cap(update, sender="notices@cuizhai.heyun")

    assert validate_cap(document) == []
    alert = parse(document)
    assert alert.findtext("cap:msgType", namespaces=NS) == "Update"
    assert alert.findtext("cap:references", namespaces=NS) == \
        f"notices@cuizhai.heyun,{OUTAGE['id']},2021-07-04T18:30:00+08:00"


def test_cancel_references_every_earlier_notice():
    cancel = {**OUTAGE, "id": "c-3", "msg_type": "Cancel", "title": "取消停水", "body": "施工取消。",
              "references": [{"id": "a-1", "sent": "2021-07-04T10:00:00+08:00"},
                             {"id": "b-2", "sent": "2021-07-04T02:00:00+00:00"}]}
    document = notice_to_cap(cancel)
    assert validate_cap(document) == []
    assert parse(document).findtext("cap:references", namespaces=NS) == (
        "notices@wanghe.heyun,a-1,2021-07-04T10:00:00+08:00 "
        "notices@wanghe.heyun,b-2,2021-07-04T10:00:00+08:00")


def test_notice_with_english_text_has_two_info_blocks():
    bilingual = {**OUTAGE, "title_en": "Water outage",
                 "body_en": "No water on 5 July 08:00-18:00; low pressure on floor 4 and above."}
    document = notice_to_cap(bilingual)

    assert validate_cap(document) == []
    zh, en = parse(document).findall("cap:info", NS)
    assert (zh.findtext("cap:language", namespaces=NS), zh.findtext("cap:headline", namespaces=NS)) == \
        ("zh-CN", "停水通知")
    assert (en.findtext("cap:language", namespaces=NS), en.findtext("cap:headline", namespaces=NS)) == \
        ("en-US", "Water outage")
    assert en.findtext("cap:description", namespaces=NS) == bilingual["body_en"]
    assert en.findtext("cap:event", namespaces=NS) == "Water supply interruption"


@pytest.mark.parametrize("category, expected", [
    ("gas", ["Infra", "Safety"]), ("weather", ["Met"]), ("safety", ["Safety"]),
    ("activity", ["Other"]), ("something_new", ["Other"]),
])
def test_categories_map_to_cap_categories(category, expected):
    document = notice_to_cap({**OUTAGE, "category": category, "severity": "severe", "urgency": None})
    assert validate_cap(document) == []
    info = parse(document).find("cap:info", NS)
    assert [c.text for c in info.findall("cap:category", NS)] == expected
    assert info.findtext("cap:severity", namespaces=NS) == "Severe"
    assert info.findtext("cap:urgency", namespaces=NS) == "Unknown"
    assert info.findtext("cap:certainty", namespaces=NS) == "Likely"


def test_invalid_documents_are_reported():
    alert = parse(notice_to_cap(OUTAGE))
    alert.remove(alert.find("cap:identifier", NS))
    problems = validate_cap(etree.tostring(alert))
    assert problems and "identifier" in problems[0]

    zulu = notice_to_cap(OUTAGE).replace(b"2021-07-04T18:30:00+08:00", b"2021-07-04T10:30:00Z")
    assert validate_cap(zulu)  # CAP forbids "Z": the schema's pattern catches it

    assert validate_cap(b"<alert>") and validate_cap(b"<alert>")[0].startswith("not well-formed")


def test_cap_rules_beyond_the_schema():
    update = notice_to_cap({**OUTAGE, "msg_type": "Update"})  # no references
    assert validate_cap(update) == ["an Update or Cancel should reference the alerts it replaces"]
    spaced = notice_to_cap(OUTAGE).replace(OUTAGE["id"].encode(), b"id with spaces")
    assert validate_cap(spaced) == ["identifier must not contain spaces, commas, < or &"]


def test_values_cap_cannot_carry_are_refused_on_export():
    with pytest.raises(ValueError, match="severity"):
        notice_to_cap({**OUTAGE, "severity": "Catastrophic"})
    with pytest.raises(ValueError, match="identifier"):
        notice_to_cap({**OUTAGE, "id": "a,b"})


def test_cap_datetime_forms():
    assert cap_datetime("2021-07-05T00:00:00Z") == "2021-07-05T08:00:00+08:00"
    assert cap_datetime(datetime(2021, 7, 5, 0, 0, 0, 999)) == "2021-07-05T08:00:00+08:00"  # naive = UTC


def test_control_characters_a_stored_notice_holds_are_dropped_on_export():
    # Notify refuses them now (below), but notices stored before must still export, not 502.
    notice = {**OUTAGE, "title": "停水\u0000通知\u0007", "body": "请\u001b提前\t储水。\r\n谢谢",
              "area_description": "3号楼\u000b"}
    document = notice_to_cap(notice)

    assert validate_cap(document) == []
    info = parse(document).find("cap:info", NS)
    assert info.findtext("cap:headline", namespaces=NS) == "停水通知"
    assert info.findtext("cap:description", namespaces=NS) == "请提前\t储水。\r\n谢谢"  # tab, line breaks kept
    assert info.findtext("cap:area/cap:areaDesc", namespaces=NS) == "3号楼"


@pytest.mark.parametrize("schema, data, field", [
    (NoticeCreate, {"title": "停水\u0007", "body": "x", "category": "other", "audience": {}}, "title"),
    (NoticeCreate, {"title": "t", "body": "x", "body_en": "\u0000", "category": "other", "audience": {}}, "body_en"),
    (NoticeUpdate, {"title": "t", "body": "停\u001b水"}, "body"),
    (NoticeCancel, {"reason": "\u0008"}, "reason"),
    (Acknowledgement, {"note": "ok\u0000"}, "note"),
])
def test_notify_refuses_control_characters_in_text_naming_the_field(schema, data, field):
    with pytest.raises(InvalidInput) as caught:
        load(schema(), data)
    assert set(caught.value.errors) == {field}
