"""The string rules of event values (no storage)."""
import pytest

from app.service.event_values import BadValue, flag, is_unset, number, read_fields


@pytest.mark.parametrize("value, expected", [
    ("4.99", 4.99), (" 4.99 ", 4.99), ("8987", 8987), ("-3", -3), ("1e3", 1000.0), (".5", 0.5), (7, 7), (2.5, 2.5)])
def test_numbers_as_json_or_as_strings(value, expected):
    assert number("x", value) == expected and type(number("x", value)) is type(expected)


@pytest.mark.parametrize("value", ["abc", "4,99", "1_000", "NaN", "inf", "0x10", "1e999", True, float("nan"), [1]])
def test_what_is_not_a_number(value):
    with pytest.raises(BadValue, match="x must be a number"):
        number("x", value)


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False), ("true", True),
    ("False", False), (" TRUE ", True)])
def test_flags(value, expected):
    assert flag("won", value) is expected


@pytest.mark.parametrize("value", [2, "yes", "", 1.0, None, "t"])
def test_what_is_not_a_flag(value):
    with pytest.raises(BadValue, match="won must be true or false"):
        flag("won", value)


def test_empty_strings_are_unset_and_other_fields_are_kept_as_sent():
    assert is_unset("") and is_unset("  ") and is_unset(None) and not is_unset("0") and not is_unset(0)
    assert read_fields({"signin_method": "", "score": "12", "won": "0", "os_version": "6.4.5", "level": None,
                        "offer_price": "9.99", "device_id": "73f9"}) == {
        "score": 12, "won": False, "os_version": "6.4.5", "offer_price": 9.99, "device_id": "73f9"}
