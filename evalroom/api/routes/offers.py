"""Offers (要约): the host asks a guest venue for seats; the guest confirms, declines or lets it expire.

Who sees what (sites/offers.py): a guest venue sees an offer only in its blind guest view (date, times,
seats, specialties); the host's operators see their offers without the guest's identity until check-in
opens, while blind pairing is on; admins and the session's supervisors see everything. An offer out of
the caller's scope answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from evalroom.api.deps import Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import OfferCancel, OfferChange, OfferConfirm, OfferCreate, OfferDecline
from evalroom.services import offers

router = APIRouter(tags=["offers"])
Host = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR))]
Guest = Annotated[Principal, Depends(require(Role.HALL_OPERATOR))]
OfferId = Annotated[str, Path(max_length=64)]
SessionId = Annotated[str, Path(max_length=64)]
View = dict[str, Any]


@router.post("/sessions/{session_id}/offers", status_code=201,
             summary="Offer a guest venue seats for the session; without guest_venue_id the coordinator draws one")
def create(ctx: Ctx, principal: Host, session_id: SessionId, body: OfferCreate) -> View:
    if body.guest_venue_id is None:
        offer = offers.request_drawn_offer(ctx.store, ctx.settings, ctx.sealer, principal, session_id, body)
    else:
        with ctx.store.write() as tx:
            offer = offers.create_offer(tx, ctx.settings, principal, session_id, body)
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer.id)


@router.get("/sessions/{session_id}/offers", summary="The session's offers (host operators: guests hidden while blind)")
def list_for_session(ctx: Ctx, principal: Reader, session_id: SessionId) -> list[View]:
    return offers.list_session_offers(ctx.store, ctx.settings, principal, session_id)


@router.get("/offers", summary="Admins: every offer. Operators: offers made to their venue, blind view")
def list_(ctx: Ctx, principal: Host) -> list[View]:
    return offers.list_guest_offers(ctx.store, ctx.settings, principal)


@router.get("/offers/{offer_id}", summary="One offer, as the caller may see it")
def get(ctx: Ctx, principal: Reader, offer_id: OfferId) -> View:
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer_id)


@router.patch("/offers/{offer_id}", summary="Change an offer (host); the guest must confirm the new terms")
def change(ctx: Ctx, principal: Host, offer_id: OfferId, body: OfferChange) -> View:
    with ctx.store.write() as tx:
        offers.change_offer(tx, ctx.settings, principal, offer_id, body)
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer_id)


@router.post("/offers/{offer_id}/cancel", summary="Cancel an offer (host); its seats are released")
def cancel(ctx: Ctx, principal: Host, offer_id: OfferId, body: OfferCancel) -> View:
    with ctx.store.write() as tx:
        offers.cancel_offer(tx, principal, offer_id, body.reason)
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer_id)


@router.post("/offers/{offer_id}/confirm", summary="Confirm an offer (guest operators), booking seats")
def confirm(ctx: Ctx, principal: Guest, offer_id: OfferId, body: OfferConfirm) -> View:
    with ctx.store.write() as tx:
        offers.confirm_offer(tx, principal, offer_id, body.version, seat_ids=body.seat_ids)
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer_id)


@router.post("/offers/{offer_id}/decline", summary="Decline an offer with a reason (guest operators)")
def decline(ctx: Ctx, principal: Guest, offer_id: OfferId, body: OfferDecline) -> View:
    with ctx.store.write() as tx:
        offers.decline_offer(tx, principal, offer_id, body.version, body.reason)
    return offers.get_offer_view(ctx.store, ctx.settings, principal, offer_id)
