"""Staff password hashing (evalroom.auth.passwords)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from evalroom.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password

PASSWORD = "correct horse battery 济南"


def _stored(password: str, *, n: int, r: int, p: int, salt: bytes = b"0123456789abcdef", dklen: int = 32) -> str:
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_round_trip(stored):
    assert verify_password(PASSWORD, stored) is True


def test_wrong_password_is_false(stored):
    assert verify_password("correct horse battery 济", stored) is False
    assert verify_password("", stored) is False


def test_hash_format_carries_todays_parameters(stored):
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32
    assert PASSWORD not in stored


def test_same_password_hashes_differently_each_time(stored):
    again = hash_password(PASSWORD)
    assert again != stored
    assert verify_password(PASSWORD, again)


def test_hash_matches_an_independent_scrypt_computation(stored):
    _, _, _, _, salt, _ = stored.split("$")
    assert stored == _stored(PASSWORD, n=2**14, r=8, p=1, salt=base64.b64decode(salt))


def test_hash_with_older_weaker_parameters_still_verifies():
    old = _stored(PASSWORD, n=2**10, r=8, p=1)
    assert verify_password(PASSWORD, old) is True
    assert verify_password("wrong", old) is False


@pytest.mark.parametrize("garbage", [
    "",
    "garbage",
    "scrypt$",
    "bcrypt$16384$8$1$AAAA$AAAA",
    "scrypt$x$8$1$AAAA$AAAA",
    "scrypt$16384$8$1$not base64!$AAAA",
    "scrypt$16384$8$1$AAAA$",                 # empty digest
    "scrypt$1000$8$1$AAAA$AAAAAAAA",           # n not a power of two
    "scrypt$16384$8$1$AAAA$AAAA$extra",
    "$2b$12$abcdefghijklmnopqrstuv",            # someone else's format
])
def test_garbage_stored_hash_is_false_not_an_exception(garbage):
    assert verify_password(PASSWORD, garbage) is False


def test_needs_rehash_is_false_for_todays_hash(stored):
    assert needs_rehash(stored) is False


@pytest.mark.parametrize("n, r, p", [(2**13, 8, 1), (2**10, 8, 1), (2**14, 4, 1), (2**14, 8, 0)])
def test_needs_rehash_for_weaker_parameters(n, r, p):
    assert needs_rehash(f"scrypt${n}${r}${p}$AAAA$AAAA") is True


def test_needs_rehash_false_for_stronger_parameters():
    assert needs_rehash("scrypt$32768$8$1$AAAA$AAAA") is False
    assert needs_rehash("scrypt$16384$8$2$AAAA$AAAA") is False


@pytest.mark.parametrize("stored_hash", ["", "plain", "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$16384$8$1$AAAA"])
def test_needs_rehash_for_other_formats(stored_hash):
    assert needs_rehash(stored_hash) is True


def test_needs_rehash_for_larger_n_but_much_smaller_r():
    assert needs_rehash("scrypt$32768$1$1$AAAA$AAAA") is True


def test_dummy_hash_is_a_valid_hash_that_matches_nothing_obvious():
    assert dummy_hash() == dummy_hash()  # computed once
    assert needs_rehash(dummy_hash()) is False
    assert verify_password("", dummy_hash()) is False
