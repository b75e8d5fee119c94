"""Regions: each with its own certificate authority (its CA certificates, CRLs, and whether it is recognised)
and expert pool; admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import PemIn, RegionCreate, RegionPublic, RegionUpdate
from evalroom.services import registry, trust

router = APIRouter(prefix="/regions", tags=["registry"])


@router.post("", status_code=201, summary="Register a region")
def create(ctx: Ctx, admin: Admin, body: RegionCreate) -> RegionPublic:
    with ctx.store.write() as tx:
        return registry.create_region(tx, admin.actor, body)


@router.get("", summary="List regions")
def list_(ctx: Ctx, _admin: Admin) -> list[RegionPublic]:
    return registry.list_regions(ctx.store)


RegionId = Annotated[str, Path(max_length=64)]


@router.patch("/{region_id}", summary="Change a region's CA name, or recognise it (数字证书互认) or stop")
def update(ctx: Ctx, admin: Admin, region_id: RegionId, body: RegionUpdate) -> RegionPublic:
    with ctx.store.write() as tx:
        return registry.update_region(tx, admin.actor, region_id, body)


@router.post("/{region_id}/ca-certificates", status_code=201,
             summary="Register the region's CA certificates (roots, intermediates; PEM)")
def add_ca_certificates(ctx: Ctx, admin: Admin, region_id: RegionId, body: PemIn) -> list[dict[str, Any]]:
    with ctx.store.write() as tx:
        return trust.add_ca_certificates(tx, admin.actor, region_id, body.pem)


@router.post("/{region_id}/crls", status_code=201, summary="Register a CRL of one of the region's CAs (PEM)")
def add_crl(ctx: Ctx, admin: Admin, region_id: RegionId, body: PemIn) -> dict[str, Any]:
    with ctx.store.write() as tx:
        return trust.add_crl(tx, admin.actor, region_id, body.pem)


@router.get("/{region_id}/trust", summary="The region's registered CA certificates and CRLs")
def region_trust(ctx: Ctx, _admin: Admin, region_id: RegionId) -> dict[str, Any]:
    return trust.region_trust(ctx.store, region_id)
