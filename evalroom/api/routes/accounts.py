"""Staff accounts (coordinator admins, hall operators, supervisors); admins only."""

from __future__ import annotations

from fastapi import APIRouter

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import AccountCreate, AccountPublic
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
