"""Who gets which channel, and when quiet hours hold a notice back (plain functions, no services)."""
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from notify.fanout import QuietHours, organization_channels, quiet_until, resident_channels

NIGHTS = QuietHours()  # 22:00-07:00 Asia/Shanghai, whatever the process was configured with

SHANGHAI = ZoneInfo("Asia/Shanghai")


def resident(tags="", phone=True, preferred=None):
    return SimpleNamespace(tags=f",{tags}," if tags else ",", phone_token="x" if phone else None,
                           preferred_channel=preferred)


def at(hour, minute=0):
    return datetime(2026, 11, 28, hour, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


@pytest.mark.parametrize("person, channels", [
    (resident(), ["in_app", "sms", "door_to_door"]),
    (resident(phone=False), ["in_app", "door_to_door"]),
    (resident(preferred="sms"), ["sms", "in_app", "door_to_door"]),
    (resident(tags="no_smartphone,elderly"), ["door_to_door"]),
    (resident(tags="no_smartphone", preferred="sms"), ["door_to_door"]),
])
def test_resident_channel_order(person, channels):
    assert resident_channels(person) == channels


def test_organisations_prefer_their_own_system():
    assert organization_channels(SimpleNamespace(webhook_url="http://x", emails=["a@b"])) == ["webhook", "email", "in_app"]
    assert organization_channels(SimpleNamespace(webhook_url=None, emails=[])) == ["in_app"]


@pytest.mark.parametrize("hour, minute, held", [(21, 59, False), (22, 0, True), (2, 30, True), (6, 59, True), (7, 0, False)])
def test_quiet_hours_hold_sms_to_residents_until_seven(hour, minute, held):
    notice = SimpleNamespace(severity="Moderate")
    until = quiet_until(at(hour, minute), notice, "sms", "resident", hours=NIGHTS)
    assert (until is not None) == held
    if held:
        assert until.astimezone(SHANGHAI).hour == 7 and until > at(hour, minute)


def test_severe_notices_and_the_inbox_and_organisations_are_never_held():
    night = at(23)
    assert quiet_until(night, SimpleNamespace(severity="Severe"), "sms", "resident", hours=NIGHTS) is None
    assert quiet_until(night, SimpleNamespace(severity="Extreme"), "door_to_door", "resident", hours=NIGHTS) is None
    assert quiet_until(night, SimpleNamespace(severity="Minor"), "in_app", "resident", hours=NIGHTS) is None
    assert quiet_until(night, SimpleNamespace(severity="Minor"), "email", "organization", hours=NIGHTS) is None


def test_quiet_hours_are_a_setting():
    assert QuietHours.parse("off") is None and QuietHours.parse(False) is None
    afternoon = QuietHours.parse("13:00-15:00", "Asia/Shanghai")
    assert afternoon.contains(at(14)) and not afternoon.contains(at(15)) and not afternoon.contains(at(23))
    assert afternoon.ends_after(at(14, 30)).astimezone(SHANGHAI).hour == 15
    with pytest.raises(ValueError, match="22:00-07:00"):
        QuietHours.parse("all night")
