"""Seat devices and when a seat is usable.

A seat in a remote evaluation room is a workstation: a PC, its network link, a microphone, a speaker and a
camera. The site agent reports each as ``ok``, ``fault`` or ``unknown``; a seat is usable only when all five
are ``ok`` and neither the seat nor its room has been marked faulty by a person. ``unknown`` counts as not
usable: a seat nobody has checked is not offered to a guest.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["DEVICES", "DeviceState", "RoomKind", "seat_usable", "unusable_reasons"]

DEVICES: tuple[str, ...] = ("pc", "network", "microphone", "speaker", "camera")


class DeviceState(StrEnum):
    OK = "ok"
    FAULT = "fault"
    UNKNOWN = "unknown"


class RoomKind(StrEnum):
    SINGLE = "single"
    """A room for one project at a time: while one session holds seats in it, no other session may."""
    SHARED = "shared"
    """A hall shared by several projects at once; only the seats themselves are exclusive."""


def unusable_reasons(devices: Mapping[str, str], *, seat_fault: str | None, room_fault: str | None) -> list[str]:
    """Why a seat cannot be used, in a fixed order; empty when it can. ``*_fault`` is the reason a person gave
    when marking it faulty, or None."""
    reasons = []
    if room_fault is not None:
        reasons.append(f"room marked faulty: {room_fault}")
    if seat_fault is not None:
        reasons.append(f"seat marked faulty: {seat_fault}")
    reasons.extend(f"{d}: {devices.get(d, DeviceState.UNKNOWN)}" for d in DEVICES
                   if devices.get(d, DeviceState.UNKNOWN) != DeviceState.OK)
    return reasons


def seat_usable(devices: Mapping[str, str], *, seat_fault: str | None, room_fault: str | None) -> bool:
    return not unusable_reasons(devices, seat_fault=seat_fault, room_fault=room_fault)
