"""A committee member's way from the draw to the seat, and what leaves a vacancy to be refilled.

::

    drawn ──check_in──▶ checked_in ──declare(no conflict)──▶ seated
      │                    │                                   │
      ├─decline──▶ declined │                                  │
      ├─no_show──▶ no_show  └─declare(conflict)──▶ recused     │
      └──────────────── void (a conflict found later) ◀────────┘──▶ voided

``declined``, ``no_show``, ``recused`` and ``voided`` are vacancies: the member is replaced by a new draw
for the same venue and specialty (a representative, who is not drawn, by the tenderer naming another).
A voided member's evaluation does not count (shared/domain.md, "Committee").
"""

from __future__ import annotations

from enum import StrEnum

from evalroom.errors import ConflictError

__all__ = ["ACTIVE", "MemberAction", "MemberKind", "MemberState", "VACANCIES", "next_member_state"]


class MemberKind(StrEnum):
    EXPERT = "expert"
    REPRESENTATIVE = "representative"
    """A representative of the tenderer (招标人代表): named, not drawn."""


class MemberState(StrEnum):
    DRAWN = "drawn"
    CHECKED_IN = "checked_in"
    SEATED = "seated"
    DECLINED = "declined"
    NO_SHOW = "no_show"
    RECUSED = "recused"
    VOIDED = "voided"


class MemberAction(StrEnum):
    CHECK_IN = "check_in"
    DECLARE_NO_CONFLICT = "declare_no_conflict"
    DECLARE_CONFLICT = "declare_conflict"
    DECLINE = "decline"
    NO_SHOW = "no_show"
    VOID = "void"


ACTIVE = frozenset({MemberState.DRAWN, MemberState.CHECKED_IN, MemberState.SEATED})
"""Members who hold a place on the committee."""
VACANCIES = frozenset({MemberState.DECLINED, MemberState.NO_SHOW, MemberState.RECUSED, MemberState.VOIDED})

_NEXT: dict[tuple[MemberState, MemberAction], MemberState] = {
    (MemberState.DRAWN, MemberAction.CHECK_IN): MemberState.CHECKED_IN,
    (MemberState.DRAWN, MemberAction.DECLINE): MemberState.DECLINED,
    (MemberState.DRAWN, MemberAction.NO_SHOW): MemberState.NO_SHOW,
    (MemberState.CHECKED_IN, MemberAction.DECLARE_NO_CONFLICT): MemberState.SEATED,
    (MemberState.CHECKED_IN, MemberAction.DECLARE_CONFLICT): MemberState.RECUSED,
    **{(s, MemberAction.VOID): MemberState.VOIDED for s in ACTIVE},
}


def next_member_state(state: MemberState, action: MemberAction) -> MemberState:
    try:
        return _NEXT[(state, action)]
    except KeyError:
        raise ConflictError(f"a member who is {state} cannot {action.replace('_', ' ')}") from None
