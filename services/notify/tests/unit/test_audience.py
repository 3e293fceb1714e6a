"""Who a notice reaches and how it reads, with no broker and no database server: audience
resolution and the first channel per recipient (through the ``preview_notice`` entrypoint on
SQLite), who may address residents by which tag, and the templates' placeholders."""
from types import SimpleNamespace

import pytest

from heyun.errors import Forbidden, InvalidInput
from notify import templates
from heyun.testing.callers import STAFF, as_role
from notify.tests.support import OUTAGE, WATER_PLANT


def test_the_outage_reaches_floors_four_and_up_of_its_buildings_each_on_its_first_channel(notify):
    notify.context.caller = WATER_PLANT
    preview = notify.preview_notice(OUTAGE["audience"])
    # buildings 3 and 5, floors 4 and up: r2, r3, r4 in 3; r5, r6 in 5 (r1, r8 live lower, r7 in 7)
    assert (preview["residents"], preview["organizations"]) == (5, 1)
    assert preview["per_building"] == {"3": 3, "5": 2}
    # no smartphone (r3, r6): door to door; r4 prefers SMS; the rest the app; property management
    # by its contacts' e-mail
    assert preview["per_channel"] == {"in_app": 2, "door_to_door": 2, "sms": 1, "email": 1}


@pytest.mark.parametrize("audience, residents", [
    ({"building_ids": ["b3"], "floor_max": 4}, 2),          # the filters intersect
    ({"grid_ids": ["grid-2"]}, 4),                          # buildings 5 and 7
    ({"tags": ["no_smartphone"]}, 2),
    ({"resident_ids": ["r001", "r404"]}, 1),                # an unknown id reaches nobody
    ({"organization_ids": ["org-water"]}, 0),               # organisations only: no residents
])
def test_audience_filters(notify, audience, residents):
    assert notify.preview_notice(audience)["residents"] == residents


def test_an_unknown_organisation_is_reported_and_the_water_plant_has_its_webhook(notify):
    preview = notify.preview_notice({"organization_ids": ["org-water", "org-nowhere"]})
    assert preview["unknown_organization_ids"] == ["org-nowhere"]
    assert preview["per_channel"] == {"webhook": 1}


def test_only_roles_that_may_know_a_tag_address_residents_by_it(notify):
    notify.context.caller = WATER_PLANT
    with pytest.raises(Forbidden):
        notify.preview_notice({"tags": ["mobility_impaired"]})
    notify.context.caller = STAFF  # the community office may (r3 is the one)
    assert notify.preview_notice({"tags": ["mobility_impaired"]})["residents"] == 1
    notify.context.caller = as_role("canteen_staff", account="canteen")  # may not publish at all
    with pytest.raises(Forbidden):
        notify.preview_notice({"building_ids": ["b3"]})


def test_a_bad_audience_names_the_field(notify):
    with pytest.raises(InvalidInput) as caught:
        notify.preview_notice({"floor_min": "fourth"})
    assert "floor_min" in caught.value.errors


# -- templates -----------------------------------------------------------------------------------

NOTICE = SimpleNamespace(title="停水通知：{building}号楼", body="{name}您好，{floor}层今日停水。{unknown}",
                         title_en="Water outage", body_en=None)


def resident(language="zh"):
    return SimpleNamespace(name="王秀英", building_number=3, unit=1, floor=5, room="501", language=language)


def test_placeholders_are_filled_and_an_unknown_one_stays_visible():
    title, body, language = templates.personalise(NOTICE, resident())
    assert (title, body, language) == ("停水通知：3号楼", "王秀英您好，5层今日停水。{unknown}", "zh")


def test_english_for_a_resident_who_reads_it_with_the_chinese_body_when_none_in_english():
    title, body, language = templates.personalise(NOTICE, resident("en"))
    assert (title, body, language) == ("Water outage", "王秀英您好，5层今日停水。{unknown}", "en")


def test_an_organisation_is_addressed_by_name_and_stray_braces_are_sent_as_written():
    organization = SimpleNamespace(name="王河社区物业服务中心")
    assert templates.personalise(NOTICE, organization=organization)[1].startswith("王河社区物业服务中心您好")
    assert templates.render("{name} {", {"name": "x"}) == "{name} {"
