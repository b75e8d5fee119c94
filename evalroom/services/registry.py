"""Regions and venues: the coordinator's registry of who takes part.

Rooms, seats and devices are in services/inventory.py; these are the records every other part refers to. A
region's specialties are not declared: they are what its expert pool holds (services/experts.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.errors import ConflictError, NotFoundError
from evalroom.schemas import RegionCreate, RegionPublic, RegionUpdate, VenueCreate
from evalroom.services.experts import covered_specialties
from evalroom.storage.models import Region, Venue
from evalroom.storage.store import Store, Tx

__all__ = ["create_region", "create_venue", "get_venue", "list_regions", "list_venues", "region_public", "update_region"]


def region_public(s: Session, region: Region) -> RegionPublic:
    return RegionPublic(id=region.id, code=region.code, name=region.name, ca_name=region.ca_name,
                        recognised=region.recognised, specialties=covered_specialties(s, region.id),
                        created_at=region.created_at)


def create_region(tx: Tx, actor: str, data: RegionCreate) -> RegionPublic:
    if tx.session.scalar(select(Region.id).where(Region.code == data.code)) is not None:
        raise ConflictError(f"region code {data.code!r} exists")
    region = Region(id=str(uuid.uuid4()), code=data.code, name=data.name, ca_name=data.ca_name, recognised=False,
                    created_at=tx.now())
    tx.session.add(region)
    tx.record(actor=actor, kind="region.created",
              payload={"region_id": region.id, "code": region.code, "name": region.name, "ca_name": data.ca_name})
    return region_public(tx.session, region)


def update_region(tx: Tx, actor: str, region_id: str, data: RegionUpdate) -> RegionPublic:
    """Change the name of the region's certificate authority, or put the region on the recognition list
    (数字证书互认) or take it off: its experts' signatures are trusted only while it is on."""
    region = tx.session.get(Region, region_id)
    if region is None:
        raise NotFoundError("region", region_id)
    changes: dict[str, object] = {}
    if data.ca_name is not None and data.ca_name != region.ca_name:
        region.ca_name = changes["ca_name"] = data.ca_name
    if data.recognised is not None and data.recognised != region.recognised:
        region.recognised = changes["recognised"] = data.recognised
    if changes:
        tx.record(actor=actor, kind="region.updated", payload={"region_id": region_id, **changes})
    return region_public(tx.session, region)


def create_venue(tx: Tx, actor: str, data: VenueCreate) -> Venue:
    if tx.session.get(Region, data.region_id) is None:
        raise NotFoundError("region", data.region_id)
    if tx.session.scalar(select(Venue.id).where(Venue.code == data.code)) is not None:
        raise ConflictError(f"venue code {data.code!r} exists")
    venue = Venue(id=str(uuid.uuid4()), code=data.code, name=data.name, city=data.city, region_id=data.region_id,
                  created_at=tx.now())
    tx.session.add(venue)
    tx.record(actor=actor, kind="venue.created",
              payload={"venue_id": venue.id, "code": venue.code, "name": venue.name, "city": venue.city,
                       "region_id": venue.region_id})
    return venue


def list_regions(store: Store) -> list[RegionPublic]:
    with store.read() as s:
        return [region_public(s, r) for r in s.scalars(select(Region).order_by(Region.code))]


def list_venues(store: Store) -> list[Venue]:
    with store.read() as s:
        return list(s.scalars(select(Venue).order_by(Venue.code)))


def get_venue(store: Store, venue_id: str) -> Venue:
    with store.read() as s:
        venue = s.get(Venue, venue_id)
    if venue is None:
        raise NotFoundError("venue", venue_id)
    return venue
