"""rules.yml is data, so nothing imports its words: this holds them to the contracts instead. A
rule with a misspelt category or role would otherwise fail only when its event first arrives,
and one bound to an event its source never publishes would wait forever."""
import importlib

import pytest

from community.roles import Role
from community.services import SERVICES, names
from notify import rules
from notify.contract import Category, Certainty, Severity, Urgency

RULES = rules.load_rules()
NOTICE_WORDS = {"category": Category, "severity": Severity, "urgency": Urgency, "certainty": Certainty}


def test_there_are_rules_to_check():
    assert len(RULES) >= 2


@pytest.mark.parametrize("rule", RULES, ids=[rule["name"] for rule in RULES])
def test_a_rule_listens_to_an_event_its_source_publishes(rule):
    assert rule["source"] in names(SERVICES)
    published = {event.name for event in importlib.import_module(f"{rule['source']}.contract").EVENTS}
    assert rule["event_type"] in published


@pytest.mark.parametrize("rule", RULES, ids=[rule["name"] for rule in RULES])
def test_a_rule_s_notice_and_roles_are_words_of_the_contracts(rule):
    for field, vocabulary in NOTICE_WORDS.items():
        if field in rule["notice"]:
            assert rule["notice"][field] in set(vocabulary), f"{rule['name']}: {field} {rule['notice'][field]!r}"
    assert set(rule.get("audience", {}).get("roles") or []) <= set(Role)
