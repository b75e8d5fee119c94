"""The hash-linked event chain (evalroom.domain.events): wire format, validation, and tamper detection."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from evalroom.domain.events import (
    COORDINATOR_CHAIN,
    GENESIS_HASH,
    ChainBroken,
    Event,
    chain_event_hash,
    chained_event,
    event_hash,
    next_event,
    verify_chain,
    verify_chain_segment,
    verify_events,
)

pytestmark = pytest.mark.dates

# fixed-dates: the canonical bytes below are a wire-format vector with the timestamp inside them; the chain is
# pure (no clock reads it), so a fixed instant never expires.
RECORDED_AT = "2026-11-21T10:45:00.000000Z"


def _event(prev: Event | None = None, *, kind: str = "venue.created", payload: dict | None = None,
           session_id: str | None = None, recorded_at: str = RECORDED_AT, actor: str = "system") -> Event:
    return next_event(
        prev_seq=prev.seq if prev else 0,
        prev_hash=prev.hash if prev else GENESIS_HASH,
        recorded_at=recorded_at,
        actor=actor,
        kind=kind,
        session_id=session_id,
        payload={} if payload is None else payload,
    )


def _chain(n: int) -> list[Event]:
    events: list[Event] = []
    for i in range(n):
        events.append(_event(events[-1] if events else None, kind="session.updated",
                             payload={"n": i, "note": f"step {i}"}, session_id="s-1"))
    return events


# --- the wire format ---------------------------------------------------------------------------------------


def test_genesis_hash_is_64_zeros():
    assert GENESIS_HASH == "0000000000000000000000000000000000000000000000000000000000000000"


def test_first_event_hash_is_sha256_of_the_literal_canonical_bytes():
    ev = _event(payload={"name": "hall 3", "rooms": 2, "open": True})
    expected_bytes = (
        b'{"actor":"system","kind":"venue.created",'
        b'"payload":{"name":"hall 3","open":true,"rooms":2},'
        b'"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
        b'"recorded_at":"2026-11-21T10:45:00.000000Z","seq":1,"session_id":null}'
    )
    assert ev.hash == hashlib.sha256(expected_bytes).hexdigest()


def test_hash_covers_non_ascii_as_raw_utf8_and_session_id_as_string():
    ev = next_event(prev_seq=6, prev_hash="ab" * 32, recorded_at=RECORDED_AT, actor="hall-operator:li",
                    kind="session.updated", session_id="s-42", payload={"city": "济南", "list": [1, None]})
    expected_bytes = (
        b'{"actor":"hall-operator:li","kind":"session.updated",'
        b'"payload":{"city":"\xe6\xb5\x8e\xe5\x8d\x97","list":[1,null]},'
        b'"prev_hash":"abababababababababababababababababababababababababababababababab",'
        b'"recorded_at":"2026-11-21T10:45:00.000000Z","seq":7,"session_id":"s-42"}'
    )
    assert ev.seq == 7
    assert ev.hash == hashlib.sha256(expected_bytes).hexdigest()


def test_event_hash_matches_next_event_hash():
    ev = _event(payload={"a": 1})
    assert event_hash(seq=ev.seq, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind,
                      session_id=ev.session_id, payload=ev.payload, prev_hash=ev.prev_hash) == ev.hash


@pytest.mark.parametrize("field, value", [
    ("seq", 2),
    ("recorded_at", "2026-11-21T10:45:00.000001Z"),
    ("actor", "coordinator-admin:root"),
    ("kind", "venue.updated"),
    ("session_id", "s-1"),
    ("payload", {"a": 2}),
    ("prev_hash", "1" * 64),
])
def test_every_field_is_covered_by_the_hash(field, value):
    base = dict(seq=1, recorded_at=RECORDED_AT, actor="system", kind="venue.created", session_id=None,
                payload={"a": 1}, prev_hash=GENESIS_HASH)
    changed = {**base, field: value}
    assert event_hash(**changed) != event_hash(**base)


def test_next_event_links_to_previous_and_numbers_from_it():
    first = _event()
    second = _event(first, kind="venue.updated")
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)


def test_as_dict_contains_all_fields():
    ev = _event(payload={"a": 1}, session_id="s-1")
    assert ev.as_dict() == {"seq": 1, "recorded_at": RECORDED_AT, "actor": "system", "kind": "venue.created",
                            "session_id": "s-1", "payload": {"a": 1}, "prev_hash": GENESIS_HASH,
                            "hash": ev.hash, "chain": "s-1", "position": None, "version": 1}


def test_next_event_copies_the_payload():
    payload = {"a": 1}
    ev = _event(payload=payload)
    payload["a"] = 2
    assert ev.payload == {"a": 1}
    assert verify_chain([ev]) == 1


# --- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["venue.created", "session.supervisor_assigned", "a.b.c", "x1.y2_z"])
def test_valid_kinds_are_accepted(kind):
    assert _event(kind=kind).kind == kind


@pytest.mark.parametrize("kind", [
    "", "venue", "Venue.created", "venue.Created", "venue..created", ".venue.created", "venue.created.",
    "venue-created.x", "1venue.created", "venue.1created", "venue created", "venue.créé", "venue.created ",
])
def test_invalid_kinds_are_rejected(kind):
    with pytest.raises(ValueError, match="'kind' must be dotted lower-case"):
        _event(kind=kind)


def test_kind_with_trailing_newline_is_rejected():
    with pytest.raises(ValueError):
        _event(kind="venue.created\n")


def test_empty_actor_is_rejected():
    with pytest.raises(ValueError, match="'actor' must not be empty"):
        _event(actor="")


@pytest.mark.parametrize("payload, path", [
    ({"score": 1.5}, "$.score"),
    ({"scores": [1, 2.0]}, "$.scores[1]"),
    ({"a": {"b": float("nan")}}, "$.a.b"),
])
def test_float_payload_is_rejected_naming_the_path(payload, path):
    with pytest.raises(ValueError, match="not canonical JSON") as info:
        _event(payload=payload)
    assert path in str(info.value)


def test_payload_with_non_json_value_is_rejected():
    with pytest.raises(ValueError, match="not canonical JSON"):
        _event(payload={"when": object()})


# --- verify_chain -----------------------------------------------------------------------------------------


def test_verify_chain_accepts_an_intact_chain_and_returns_last_seq():
    assert verify_chain(_chain(5)) == 5


def test_verify_chain_of_nothing_returns_the_starting_point():
    assert verify_chain([]) == 0
    assert verify_chain([], after_seq=9, after_hash="f" * 64) == 9


def test_verify_chain_accepts_a_generator():
    assert verify_chain(ev for ev in _chain(3)) == 3


def test_verify_chain_detects_a_gap():
    events = _chain(5)
    del events[2]
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 4
    assert "expected seq 3" in info.value.reason


def test_verify_chain_detects_reordering():
    events = _chain(4)
    events[1], events[2] = events[2], events[1]
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 3
    assert "gap or reordering" in info.value.reason


def test_verify_chain_detects_a_deleted_first_event():
    events = _chain(3)[1:]
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 2


def test_verify_chain_detects_a_first_event_renumbered_after_deletion():
    # Deleting event 1 and renumbering event 2 as 1 still fails: its prev_hash is not the genesis hash.
    events = _chain(3)
    forged = dataclasses.replace(events[1], seq=1)
    with pytest.raises(ChainBroken) as info:
        verify_chain([forged, *events[2:]])
    assert info.value.seq == 1


def test_verify_chain_detects_an_edited_payload():
    events = _chain(4)
    events[2] = dataclasses.replace(events[2], payload={**events[2].payload, "n": 99})
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 3
    assert "content does not match its hash" in info.value.reason


def test_verify_chain_detects_a_payload_mutated_in_place():
    events = _chain(2)
    events[0].payload["note"] = "rewritten"  # the dict inside the frozen event is still mutable
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 1


def test_verify_chain_detects_an_edited_payload_with_its_hash_recomputed():
    # Someone who edits an event and recomputes its hash breaks the link to the next event.
    events = _chain(4)
    ev = events[1]
    fields = dict(seq=ev.seq, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind,
                  session_id=ev.session_id, payload={"n": 42}, prev_hash=ev.prev_hash)
    events[1] = Event(**fields, hash=event_hash(**fields))
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 3
    assert "prev_hash" in info.value.reason


def test_verify_chain_detects_an_edited_prev_hash():
    events = _chain(3)
    events[1] = dataclasses.replace(events[1], prev_hash="f" * 64)
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 2
    assert "prev_hash does not match" in info.value.reason


def test_verify_chain_detects_an_edited_prev_hash_with_its_hash_recomputed_on_the_first_event():
    ev = _event(payload={"a": 1})
    fields = dict(seq=1, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind, session_id=None,
                  payload=ev.payload, prev_hash="1" * 64)
    with pytest.raises(ChainBroken) as info:
        verify_chain([Event(**fields, hash=event_hash(**fields))])
    assert info.value.seq == 1


def test_verify_chain_detects_an_edited_hash():
    events = _chain(2)
    events[1] = dataclasses.replace(events[1], hash="e" * 64)
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 2


@pytest.mark.parametrize("field, value", [("actor", "system2"), ("recorded_at", "2027-01-01T00:00:00.000000Z"),
                                          ("kind", "venue.deleted"), ("session_id", "s-2")])
def test_verify_chain_detects_edits_to_other_fields(field, value):
    events = _chain(2)
    events[0] = dataclasses.replace(events[0], **{field: value})
    with pytest.raises(ChainBroken) as info:
        verify_chain(events)
    assert info.value.seq == 1


def test_verify_chain_verifies_a_continuation():
    events = _chain(6)
    assert verify_chain(events[3:], after_seq=3, after_hash=events[2].hash) == 6


def test_verify_chain_rejects_a_continuation_from_the_wrong_hash():
    events = _chain(6)
    with pytest.raises(ChainBroken) as info:
        verify_chain(events[3:], after_seq=3, after_hash=events[1].hash)
    assert info.value.seq == 4


def test_verify_chain_rejects_a_continuation_from_the_wrong_seq():
    events = _chain(6)
    with pytest.raises(ChainBroken) as info:
        verify_chain(events[3:], after_seq=2, after_hash=events[2].hash)
    assert info.value.seq == 4


def test_chain_broken_message_names_seq_and_reason():
    err = ChainBroken(7, "something")
    assert (err.seq, err.reason) == (7, "something")
    assert str(err) == "event chain broken at seq 7: something"


# --- format 2: a chain per session -------------------------------------------------------------------------------
def _chained(prev: Event | None, session_id: str | None, seq: int | None = None, i: int = 0) -> Event:
    return chained_event(chain=session_id or COORDINATOR_CHAIN, prev_position=prev.position if prev else 0,
                         prev_hash=prev.hash if prev else GENESIS_HASH, recorded_at=RECORDED_AT, actor="system",
                         kind="session.updated", session_id=session_id, payload={"i": i}, seq=seq)


def test_a_chained_event_hashes_its_chain_and_position_and_not_its_seq() -> None:
    ev = _chained(None, "s-1", seq=17)
    assert (ev.chain, ev.position, ev.version) == ("s-1", 1, 2)
    assert ev.hash == chain_event_hash(chain="s-1", position=1, recorded_at=RECORDED_AT, actor="system",
                                       kind="session.updated", session_id="s-1", payload={"i": 0},
                                       prev_hash=GENESIS_HASH) == _chained(None, "s-1", seq=99).hash
    assert ev.hash != _chained(None, "s-2").hash and ev.computed_hash() == ev.hash
    with pytest.raises(ValueError, match="belongs to its chain"):
        chained_event(chain="s-2", prev_position=0, prev_hash=GENESIS_HASH, recorded_at=RECORDED_AT,
                      actor="system", kind="session.updated", session_id="s-1", payload={})


def _session_chain(n: int, session_id: str = "s-1") -> list[Event]:
    events: list[Event] = []
    for i in range(n):
        events.append(_chained(events[-1] if events else None, session_id, i=i))
    return events


@pytest.mark.parametrize("tamper, position", [
    (lambda evs: [evs[0], evs[2], evs[3]], 3),  # dropped
    (lambda evs: [evs[0], evs[2], evs[1], evs[3]], 3),  # reordered
    (lambda evs: [evs[0], dataclasses.replace(evs[1], payload={"i": 9}), evs[2], evs[3]], 2),  # altered
    (lambda evs: [evs[0], dataclasses.replace(evs[1], chain="s-2"), evs[2]], 2),  # moved to another chain
])
def test_a_chain_segment_breaks_where_it_was_tampered_with(tamper, position: int) -> None:  # type: ignore[no-untyped-def]
    events = _session_chain(4)
    assert verify_chain_segment(events, chain="s-1") == (4, events[-1].hash)
    with pytest.raises(ChainBroken) as broken:
        verify_chain_segment(tamper(events), chain="s-1")
    assert (broken.value.chain, broken.value.seq) == ("s-1", position)


def test_a_whole_record_is_the_legacy_prefix_then_the_chains_in_one_gapless_order() -> None:
    legacy = _chain(2)
    a1 = _chained(None, "s-a", seq=3)
    c1 = _chained(None, None, seq=4)
    a2 = _chained(a1, "s-a", seq=5)
    verified = verify_events([*legacy, a1, c1, a2])
    assert (verified.legacy, verified.chains, verified.events) == (2, {"s-a": (2, a2.hash), "coordinator": (1, c1.hash)}, 5)
    with pytest.raises(ChainBroken, match="seq 5"):
        verify_events([*legacy, a1, a2])  # seq 4 missing
    with pytest.raises(ChainBroken, match="does not start at seq 1"):
        verify_events([a1, c1, a2])
    assert verify_events([a1, c1, a2], complete=False).events == 3  # an excerpt
    with pytest.raises(ChainBroken, match="format-1 event after"):
        verify_events([a1, dataclasses.replace(legacy[0], seq=4)], complete=False)
