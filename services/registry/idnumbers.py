"""Resident ID numbers (居民身份证号码, GB 11643-1999) and mainland mobile numbers.

An 18-character ID is a 6-digit region code, the birth date as YYYYMMDD, a 3-digit sequence
whose last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check character.
"""
import re
from datetime import date

from registry.contract import Gender

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
ID_PATTERN = re.compile(r"^[1-9]\d{16}[\dX]$")
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


class InvalidIdNumber(ValueError):
    pass


def check_char(first17):
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def normalize(id_number):
    return (id_number or "").strip().upper()


def parse(id_number):
    """``(birth_date, gender)`` of a valid ID number; raises ``InvalidIdNumber`` saying what is wrong."""
    value = normalize(id_number)
    if len(value) != 18:
        raise InvalidIdNumber("An ID number has 18 characters.")
    if not ID_PATTERN.match(value):
        raise InvalidIdNumber("An ID number is 17 digits followed by a digit or X.")
    if check_char(value[:17]) != value[17]:
        raise InvalidIdNumber("The check digit does not match; the number was probably mistyped.")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("The birth date inside the ID number is not a real date.") from None
    if birth.year < 1890 or birth > date.today():
        raise InvalidIdNumber("The birth date inside the ID number is not plausible.")
    gender = Gender.MALE if int(value[16]) % 2 == 1 else Gender.FEMALE
    return birth, gender


def validate_against(id_number, birth_date=None, gender=None):
    """Parse and check the ID agrees with the stated birth date and gender; returns ``(birth, gender)``."""
    birth, id_gender = parse(id_number)
    if birth_date is not None and birth_date != birth:
        raise InvalidIdNumber(f"The ID number says born {birth.isoformat()}, not {birth_date.isoformat()}.")
    if gender is not None and gender != id_gender:
        raise InvalidIdNumber(f"The ID number's gender digit says {id_gender}.")
    return birth, id_gender


def make(region, birth, sequence):
    """A valid ID number (for demo data and tests): region 6 digits, sequence 0–999."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def is_mobile(phone):
    return bool(MOBILE_PATTERN.match(phone or ""))


def mask_id_number(id_number):
    """``370***********123X``: region prefix and last four stay, so staff can still tell people apart."""
    return f"{id_number[:3]}{'*' * 11}{id_number[-4:]}" if id_number else None


def mask_phone(phone):
    return f"{phone[:3]}****{phone[-4:]}" if phone else None
