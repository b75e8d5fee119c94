"""Canonical JSON (signing.canonical): the one byte form that is hashed and signed."""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.canonical import canonical_json, sha256_hex


def test_keys_are_sorted_at_every_level():
    assert canonical_json({"b": 1, "a": {"d": 2, "c": 3}}) == b'{"a":{"c":3,"d":2},"b":1}'


def test_keys_sort_by_code_point_not_insertion_or_case():
    assert canonical_json({"b": 0, "B": 0, "a": 0, "_": 0, "10": 0, "9": 0}) == (
        b'{"10":0,"9":0,"B":0,"_":0,"a":0,"b":0}'
    )


def test_no_insignificant_whitespace():
    out = canonical_json({"a": [1, 2, {"b": None}], "c": "x y"})
    assert out == b'{"a":[1,2,{"b":null}],"c":"x y"}'


def test_non_ascii_is_kept_as_utf8_not_escaped():
    out = canonical_json({"city": "济南"})
    assert out == b'{"city":"\xe6\xb5\x8e\xe5\x8d\x97"}'
    assert b"\\u" not in out
    assert out.decode("utf-8") == '{"city":"济南"}'


def test_non_ascii_keys_are_kept_as_utf8():
    assert canonical_json({"评标": 1}) == '{"评标":1}'.encode("utf-8")


def test_control_characters_and_quotes_are_escaped():
    assert canonical_json('a"b\\c\nd\x01') == b'"a\\"b\\\\c\\nd\\u0001"'


@pytest.mark.parametrize("value, expected", [
    (True, b"true"),
    (False, b"false"),
    (None, b"null"),
    (0, b"0"),
    (-17, b"-17"),
    (2**53 - 1, b"9007199254740991"),
    (-(2**53 - 1), b"-9007199254740991"),
    ("", b'""'),
    ([], b"[]"),
    ({}, b"{}"),
    ([True, None, 1, "x"], b'[true,null,1,"x"]'),
])
def test_bool_none_int_and_containers_are_fine(value, expected):
    assert canonical_json(value) == expected


def test_tuples_are_encoded_as_arrays():
    assert canonical_json({"a": (1, 2)}) == b'{"a":[1,2]}'


@pytest.mark.parametrize("value, path", [
    (1.5, "$"),
    ({"a": [1, 1.5]}, "$.a[1]"),
    ({"a": {"b": 2.0}}, "$.a.b"),
    ([[0, [float("inf")]]], "$[0][1][0]"),
    ({"x": float("nan")}, "$.x"),
])
def test_floats_are_rejected_with_their_path(value, path):
    with pytest.raises(TypeError, match="floats are not allowed") as info:
        canonical_json(value)
    assert f"at {path})" in str(info.value)


def test_float_message_suggests_a_decimal_string():
    with pytest.raises(TypeError, match="use a decimal string"):
        canonical_json({"price": 12.5})


@pytest.mark.parametrize("value, path", [
    ({1: "a"}, "$"),
    ({"a": {None: 1}}, "$.a"),
    ({"a": [{True: 1}]}, "$.a[0]"),
    ({("x",): 1}, "$"),
])
def test_non_string_keys_are_rejected_with_their_path(value, path):
    with pytest.raises(TypeError, match="object keys must be strings") as info:
        canonical_json(value)
    assert f"at {path})" in str(info.value)


@pytest.mark.parametrize("value, type_name", [
    ({"a": b"bytes"}, "bytes"),
    ({"a": {1, 2}}, "set"),
    ({"a": Decimal("1.5")}, "Decimal"),
    ({"a": object()}, "object"),
])
def test_other_types_are_rejected_naming_type_and_path(value, type_name):
    with pytest.raises(TypeError, match=f"not a JSON value: {type_name} at \\$\\.a"):
        canonical_json(value)


def test_lone_surrogate_is_rejected_with_type_error():
    with pytest.raises(TypeError):
        canonical_json({"a": "\ud800"})


def test_sha256_hex():
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


# --- properties -------------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


def _reorder(value: Any, rnd: random.Random) -> Any:
    """The same JSON value with every object's keys in a shuffled insertion order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _reorder(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_reorder(v, rnd) for v in value]
    return value


@settings(database=None, deadline=None)
@given(_json_values)
def test_canonical_json_round_trips_through_json_loads(value):
    assert json.loads(canonical_json(value)) == value


@settings(database=None, deadline=None)
@given(_json_values, st.randoms(use_true_random=False))
def test_canonical_json_does_not_depend_on_key_order(value, rnd):
    out = canonical_json(value)
    assert canonical_json(_reorder(value, rnd)) == out
    assert canonical_json(json.loads(out)) == out


@pytest.mark.parametrize("n", [2**53, -(2**53), 10**30])
def test_integers_a_javascript_verifier_cannot_read_exactly_are_rejected(n):
    with pytest.raises(TypeError, match=r"\$\.n is outside"):
        canonical_json({"n": n})
