"""Identity numbers and organisation names, compared the way check-in and avoidance need.

A resident identity number (居民身份证号码, GB 11643-1999) has 18 characters: a 6-digit address code, the
birth date ``YYYYMMDD``, a 3-digit sequence and a check character computed with ISO 7064 MOD 11-2 over the
first 17 digits (``X`` stands for 10). :func:`check_id_number` refuses anything else, so a typing error at
import or at the check-in desk is caught before it reaches a comparison.

Organisation names are compared after :func:`organisation_key`: Unicode NFKC (full-width letters, digits and
brackets become their ASCII forms), case folded, white space and common punctuation removed. "北京 某某（集团）
有限公司" and "北京某某(集团)有限公司" are the same employer; anything subtler is for people to declare.

Pure: no clock (the birth date is checked as a calendar date, not against today).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

__all__ = ["check_id_number", "id_number_with_check", "mask_id_number", "organisation_key"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d would take any script's digits


def _check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number_with_check(first17: str) -> str:
    """The full 18-character number for the first 17 digits (for generating test and demo data)."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("expected 17 digits")
    return first17 + _check_char(first17)


def check_id_number(value: str) -> str:
    """The number in its canonical form (upper-case ``X``), or ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("the ID number must be text")
    number = unicodedata.normalize("NFKC", value).strip().upper()  # full-width digits typed with an IME
    if not _SHAPE.match(number):
        raise ValueError("an ID number has 17 digits and a check digit or X (18 characters)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("the ID number's birth date (characters 7-14) is not a date") from None
    if born.year < 1900:
        raise ValueError("the ID number's birth year is before 1900")
    if _check_char(number[:17]) != number[17]:
        raise ValueError("the ID number's check digit does not match (a typing error?)")
    return number


def mask_id_number(number: str) -> str:
    """What screens and exports show: the address code and the last four characters."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


_PUNCTUATION = re.compile(r"[\s()\[\]{}.,;:'\"·\-_/\\]+")


def organisation_key(name: str) -> str:
    """The form in which two organisation names are compared (see the module docstring)."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", name)).casefold()
