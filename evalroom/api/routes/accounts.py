"""Staff accounts (coordinator admins, hall operators, supervisors); admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import AccountCreate, AccountPublic, AccountUpdate
from evalroom.services import accounts

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post("", status_code=201, summary="Create a staff account")
def create(ctx: Ctx, admin: Admin, body: AccountCreate) -> AccountPublic:
    with ctx.store.write() as tx:
        account = accounts.create_account(tx, admin.actor, body)
    return AccountPublic.model_validate(account)


@router.get("", summary="List staff accounts")
def list_(ctx: Ctx, _admin: Admin) -> list[AccountPublic]:
    return [AccountPublic.model_validate(a) for a in accounts.list_accounts(ctx.store)]


@router.patch("/{account_id}", summary="Disable or enable a staff account, unlock it, or set a new password")
def update(ctx: Ctx, admin: Admin, account_id: Annotated[str, Path(max_length=64)], body: AccountUpdate) -> AccountPublic:
    return AccountPublic.model_validate(accounts.update_account(ctx.store, admin.actor, account_id, body))
