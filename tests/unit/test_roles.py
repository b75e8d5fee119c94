"""Roles and principals (evalroom.domain.roles): binding rules and scope helpers."""

from __future__ import annotations

import dataclasses

import pytest

from evalroom.domain.roles import PUBLIC, Principal, Role, SupervisorLevel

P, S = SupervisorLevel.PRIMARY, SupervisorLevel.SECONDARY


def test_role_values_are_the_wire_names():
    assert {r.value for r in Role} == {"coordinator-admin", "hall-operator", "expert", "supervisor", "site-agent",
                                       "public"}
    assert {lv.value for lv in SupervisorLevel} == {"primary", "secondary"}


# --- valid principals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(role=Role.COORDINATOR_ADMIN, subject="root"),
    dict(role=Role.HALL_OPERATOR, subject="li", venue_id="v-1"),
    dict(role=Role.SITE_AGENT, subject="v-1", venue_id="v-1"),
    dict(role=Role.EXPERT, subject="e-1", session_id="s-1", seat="A3"),
    dict(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": P}),
    dict(role=Role.SUPERVISOR, subject="wang"),  # assigned to nothing yet
    dict(role=Role.PUBLIC, subject="anonymous"),
], ids=lambda kw: kw["role"].value)
def test_valid_bindings_are_accepted(kwargs):
    p = Principal(**kwargs)
    assert p.role is kwargs["role"]


# --- invalid principals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["expert", "coordinator-admin", None, SupervisorLevel.PRIMARY])
def test_role_must_be_a_role_member(role):
    with pytest.raises(ValueError, match="'role' must be in"):
        Principal(role=role, subject="x")  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [Role.HALL_OPERATOR, Role.SITE_AGENT])
def test_venue_roles_need_a_venue(role):
    with pytest.raises(ValueError, match=f"a {role.value} needs a venue binding"):
        Principal(role=role, subject="x")


@pytest.mark.parametrize("role", [Role.COORDINATOR_ADMIN, Role.EXPERT, Role.SUPERVISOR, Role.PUBLIC])
def test_other_roles_must_not_have_a_venue(role):
    extra = dict(session_id="s-1", seat="A1") if role is Role.EXPERT else {}
    with pytest.raises(ValueError, match=f"a {role.value} must not have a venue binding"):
        Principal(role=role, subject="x", venue_id="v-1", **extra)


@pytest.mark.parametrize("binding", [dict(), dict(session_id="s-1"), dict(seat="A3")])
def test_expert_needs_session_and_seat(binding):
    with pytest.raises(ValueError, match="an expert needs a session and seat binding"):
        Principal(role=Role.EXPERT, subject="e-1", **binding)


@pytest.mark.parametrize("role, extra", [
    (Role.COORDINATOR_ADMIN, {}),
    (Role.HALL_OPERATOR, {"venue_id": "v-1"}),
    (Role.SITE_AGENT, {"venue_id": "v-1"}),
    (Role.SUPERVISOR, {}),
    (Role.PUBLIC, {}),
])
def test_non_experts_must_not_have_session_and_seat(role, extra):
    with pytest.raises(ValueError, match="must not have a session or seat binding"):
        Principal(role=role, subject="x", session_id="s-1", seat="A3", **extra)


@pytest.mark.parametrize("binding", [dict(session_id="s-1"), dict(seat="A3")])
def test_non_experts_must_not_have_a_partial_session_binding(binding):
    with pytest.raises(ValueError):
        Principal(role=Role.COORDINATOR_ADMIN, subject="root", **binding)


@pytest.mark.parametrize("role, extra", [
    (Role.COORDINATOR_ADMIN, {}),
    (Role.HALL_OPERATOR, {"venue_id": "v-1"}),
    (Role.SITE_AGENT, {"venue_id": "v-1"}),
    (Role.EXPERT, {"session_id": "s-1", "seat": "A3"}),
    (Role.PUBLIC, {}),
])
def test_only_supervisors_supervise(role, extra):
    with pytest.raises(ValueError, match="cannot supervise sessions"):
        Principal(role=role, subject="x", supervised={"s-1": P}, **extra)


# --- actor, scope -----------------------------------------------------------------------------------------


def test_actor_is_role_colon_subject():
    assert Principal(role=Role.HALL_OPERATOR, subject="li", venue_id="v-1").actor == "hall-operator:li"
    assert Principal(role=Role.COORDINATOR_ADMIN, subject="root").actor == "coordinator-admin:root"
    assert PUBLIC.actor == "public:anonymous"


def test_public_principal():
    assert PUBLIC.role is Role.PUBLIC
    assert PUBLIC.subject == "anonymous"
    assert PUBLIC.is_bound_to_session("s-1") is False


def test_expert_is_bound_to_own_session_only():
    p = Principal(role=Role.EXPERT, subject="e-1", session_id="s-1", seat="A3")
    assert p.is_bound_to_session("s-1") is True
    assert p.is_bound_to_session("s-2") is False
    assert p.supervises("s-1") is None


def test_supervisor_is_bound_to_supervised_sessions():
    p = Principal(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": P, "s-2": S})
    assert p.supervises("s-1") is P
    assert p.supervises("s-2") is S
    assert p.supervises("s-3") is None
    assert p.is_bound_to_session("s-1") and p.is_bound_to_session("s-2")
    assert p.is_bound_to_session("s-3") is False


@pytest.mark.parametrize("principal", [
    Principal(role=Role.COORDINATOR_ADMIN, subject="root"),
    Principal(role=Role.HALL_OPERATOR, subject="li", venue_id="s-1"),
    Principal(role=Role.SITE_AGENT, subject="s-1", venue_id="s-1"),
], ids=lambda p: p.role.value)
def test_other_roles_are_bound_to_no_session(principal):
    assert principal.is_bound_to_session("s-1") is False
    assert principal.supervises("s-1") is None


# --- immutability -----------------------------------------------------------------------------------------


def test_supervised_cannot_be_mutated_after_construction():
    p = Principal(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": P})
    with pytest.raises(TypeError):
        p.supervised["s-2"] = P  # type: ignore[index]
    with pytest.raises(TypeError):
        del p.supervised["s-1"]  # type: ignore[attr-defined]
    assert dict(p.supervised) == {"s-1": P}


def test_supervised_is_a_copy_of_the_given_mapping():
    source = {"s-1": P}
    p = Principal(role=Role.SUPERVISOR, subject="wang", supervised=source)
    source["s-2"] = S
    source["s-1"] = S
    assert dict(p.supervised) == {"s-1": P}
    assert p.supervises("s-2") is None


def test_principal_fields_are_frozen():
    p = Principal(role=Role.COORDINATOR_ADMIN, subject="root")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.role = Role.SUPERVISOR  # type: ignore[misc]


def test_principals_compare_by_value():
    a = Principal(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": P})
    b = Principal(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": P})
    assert a == b
    assert a != Principal(role=Role.SUPERVISOR, subject="wang", supervised={"s-1": S})


def test_principal_is_hashable():
    assert hash(PUBLIC) == hash(Principal(role=Role.PUBLIC, subject="anonymous"))


def test_supervised_levels_given_as_strings_become_levels():
    p = Principal(role=Role.SUPERVISOR, subject="w", supervised={"s-1": "secondary"})
    assert p.supervises("s-1") is SupervisorLevel.SECONDARY


def test_unknown_supervision_level_is_refused():
    with pytest.raises(ValueError):
        Principal(role=Role.SUPERVISOR, subject="w", supervised={"s-1": "observer"})
