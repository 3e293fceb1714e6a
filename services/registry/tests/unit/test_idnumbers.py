from datetime import date

import pytest

from registry import idnumbers

# A published GB 11643 example number (checked by hand: weights sum 167, 167 % 11 = 2 → X).
VALID = "11010519491231002X"


def test_a_valid_number_gives_birth_date_and_gender():
    assert idnumbers.parse(VALID) == (date(1949, 12, 31), "female")


def test_lowercase_x_is_accepted():
    assert idnumbers.parse(VALID.lower())[1] == "female"


@pytest.mark.parametrize("number, reason", [
    ("110105194912310021", "check digit"),
    ("11010519491231002", "18 characters"),
    ("11010519491331002" + idnumbers.check_char("11010519491331002"), "not a real date"),
    ("0101051949123100AX", "17 digits"),
])
def test_bad_numbers_say_what_is_wrong(number, reason):
    with pytest.raises(idnumbers.InvalidIdNumber, match=reason):
        idnumbers.parse(number)


def test_a_stated_birth_date_or_gender_must_match():
    with pytest.raises(idnumbers.InvalidIdNumber, match="born 1949-12-31"):
        idnumbers.validate_against(VALID, birth_date=date(1950, 1, 1))
    with pytest.raises(idnumbers.InvalidIdNumber, match="gender"):
        idnumbers.validate_against(VALID, gender="male")


def test_made_numbers_are_valid():
    number = idnumbers.make("370115", date(1948, 3, 15), 123)
    assert idnumbers.parse(number) == (date(1948, 3, 15), "male")


def test_masking_keeps_prefix_and_tail():
    assert idnumbers.mask_id_number("37011519480315123X") == "370***********123X"
    assert idnumbers.mask_phone("13812345678") == "138****5678"


def test_mobile_numbers():
    assert idnumbers.is_mobile("13812345678")
    assert not idnumbers.is_mobile("12812345678")
    assert not idnumbers.is_mobile("1381234567")
