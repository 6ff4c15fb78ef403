"""One source of truth: every parameter /openapi.json states is the rule the view applies."""
import re

import pytest

from app.api import validation
from app.api.openapi import spec
from app.api.views import dashboard

RULES = {rule.name: rule for rule in (validation.PLATFORM, validation.SLOT_ID, validation.SEGMENT, validation.CITY,
                                      validation.REFERRER)}


def parameters():
    for path, operations in spec()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                yield path, method, parameter


def test_every_text_parameter_states_its_rule():
    stated = 0
    for path, method, parameter in parameters():
        name, schema = parameter["name"], parameter["schema"]
        if name == "customer_id":
            rule = validation.CUSTOMER_PATH if parameter["in"] == "path" else validation.CUSTOMER_ID
        elif name in RULES:
            rule = RULES[name]
        else:
            continue
        assert schema == rule.schema(), (path, method, name)
        stated += 1
    assert stated >= 14  # 6 of the decision, 3 of stats, 3 of the overview, the slot list's, the customer's


def test_the_window_is_stated_as_the_view_checks_it():
    window = next(p for path, _, p in parameters() if p["name"] == "window_s")
    assert (window["schema"]["minimum"], window["schema"]["maximum"]) == (dashboard.MIN_WINDOW_S, dashboard.MAX_WINDOW_S)


@pytest.mark.parametrize("rule", list(RULES.values()) + [validation.CUSTOMER_ID, validation.CUSTOMER_PATH,
                                                          validation.DECISION_ID])
def test_a_rule_accepts_exactly_what_its_pattern_and_lengths_allow(rule):
    samples = ["", "a", "web", "home-banner", "São Paulo", "a b", "-a", "a\tb", "c\x85", "x" * 64, "x" * 65,
               "x" * 256, "x" * 257, "v1.abc.def", "<script>", "a/b", " "]
    for value in samples:
        allowed = (value == "" and rule.min_length == 0) or (
            rule.min_length <= len(value) <= rule.max_length and re.fullmatch(rule.pattern, value) is not None)
        try:
            rule.check(value)
            accepted = True
        except validation.BadRequest:
            accepted = False
        assert accepted == allowed, (rule.name, value)
