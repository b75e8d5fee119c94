"""Staff accounts, login with lockout, logout by revoking the token.

Login answers the same ``login_failed`` for an unknown user, a wrong password, and a disabled or locked
account, and spends one scrypt computation on each, so that neither the code nor the timing tells which
usernames exist. ``login_max_failures`` failures in a row lock the account for ``login_lockout_minutes``; the
lock is an event, which is where an admin sees it. Attempts while locked are not counted (the lock does not
extend itself, so an attacker cannot keep a user locked out forever by guessing).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from evalroom.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from evalroom.auth.tokens import IssuedToken, TokenService, VerifiedToken
from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.errors import AuthError, ConflictError, ErrorCode, NotFoundError
from evalroom.schemas import AccountCreate, AccountUpdate
from evalroom.storage.models import Account, RevokedToken, SessionSupervisor, Venue
from evalroom.storage.store import Store, Tx

__all__ = ["create_account", "current_principal", "is_revoked", "list_accounts", "login", "principal_of", "revoke",
           "update_account"]


def create_account(tx: Tx, actor: str, data: AccountCreate) -> Account:
    s = tx.session
    if s.scalar(select(Account.id).where(Account.username == data.username)) is not None:
        raise ConflictError(f"username {data.username!r} is taken")
    if data.venue_id is not None and s.get(Venue, data.venue_id) is None:
        raise NotFoundError("venue", data.venue_id)
    account = Account(id=str(uuid.uuid4()), username=data.username, display_name=data.display_name,
                      role=data.role.value, venue_id=data.venue_id, password_hash=hash_password(data.password),
                      disabled=False, failed_logins=0, created_at=tx.now())
    s.add(account)
    tx.record(actor=actor, kind="account.created",
              payload={"account_id": account.id, "username": account.username, "role": account.role,
                       "venue_id": account.venue_id})
    return account


def update_account(store: Store, actor: str, account_id: str, data: AccountUpdate) -> Account:
    """Disable or enable, unlock, set a new password: each recorded as its own event (never the password).
    The password is hashed before the transaction, as at login."""
    new_hash = hash_password(data.password) if data.password is not None else None
    with store.write() as tx:
        return _update_account(tx, actor, account_id, data, new_hash)


def _update_account(tx: Tx, actor: str, account_id: str, data: AccountUpdate, new_hash: str | None) -> Account:
    account = tx.session.get(Account, account_id)
    if account is None:
        raise NotFoundError("account", account_id)
    if data.disabled is not None and data.disabled != account.disabled:
        if data.disabled and actor == f"{Role.COORDINATOR_ADMIN}:{account.username}":
            raise ConflictError("an admin cannot disable their own account")
        account.disabled = data.disabled
        tx.record(actor=actor, kind="account.disabled" if data.disabled else "account.enabled",
                  payload={"account_id": account.id})
    if data.unlock and account.locked_until is not None:
        account.locked_until, account.failed_logins = None, 0
        tx.record(actor=actor, kind="account.unlocked", payload={"account_id": account.id})
    if new_hash is not None:
        account.password_hash = new_hash
        account.failed_logins = 0
        tx.record(actor=actor, kind="account.password_set", payload={"account_id": account.id})
    return account


def list_accounts(store: Store) -> list[Account]:
    with store.read() as s:
        return list(s.scalars(select(Account).order_by(Account.username)))


def principal_of(session: Session, account: Account) -> Principal:
    """The principal an account acts as now, with its current supervision assignments."""
    role = Role(account.role)
    supervised = _assignments(session, account.username) if role is Role.SUPERVISOR else {}
    return Principal(role=role, subject=account.username, venue_id=account.venue_id, supervised=supervised)


def _assignments(session: Session, username: str) -> dict[str, SupervisorLevel]:
    rows = session.execute(select(SessionSupervisor.session_id, SessionSupervisor.level)
                           .join(Account, Account.id == SessionSupervisor.account_id)
                           .where(Account.username == username))
    return {sid: SupervisorLevel(level) for sid, level in rows}


_FAILED = "unknown user, wrong password, or account locked or disabled"


def login(store: Store, tokens: TokenService, settings: Settings, username: str, password: str) -> IssuedToken:
    # scrypt runs outside any transaction: a write transaction holds the chain-head lock that every writer in
    # the coordinator waits for, and ~40 ms of hashing per login must not stall them all.
    with store.read() as s:
        found = s.scalar(select(Account).where(Account.username == username))
    checked_hash = found.password_hash if found is not None else dummy_hash()
    password_ok = verify_password(password, checked_hash)
    if found is None:
        raise AuthError(ErrorCode.LOGIN_FAILED, _FAILED)
    upgraded = hash_password(password) if password_ok and needs_rehash(checked_hash) else None

    with store.write() as tx:
        # Re-read under the write lock: counters and the lock are decided on the current row.
        account = tx.session.get(Account, found.id)
        if account is None or account.password_hash != checked_hash:
            password_ok = False  # deleted or re-passworded since we checked
        now = tx.now()
        if account is None or (account.locked_until is not None and account.locked_until > now):
            raise AuthError(ErrorCode.LOGIN_FAILED, _FAILED)
        if password_ok and not account.disabled:
            account.failed_logins, account.locked_until = 0, None
            if upgraded is not None:  # the one moment we hold the password: upgrade a weak hash
                account.password_hash = upgraded
            principal = principal_of(tx.session, account)
            # A supervisor's sessions are not written into the token: they are looked up on every request
            # (current_principal), so an assignment made after the login counts at once, and a supervisor with
            # a year of assignments still has a token of a few hundred bytes.
            issued = tokens.issue(replace(principal, supervised={}))
            tx.record(actor=principal.actor, kind="account.logged_in", payload={"account_id": account.id, "jti": issued.jti})
            return replace(issued, principal=principal)
        account.failed_logins += 1
        if account.failed_logins >= settings.login_max_failures:
            account.failed_logins = 0
            account.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            tx.record(actor="system", kind="account.locked",
                      payload={"account_id": account.id, "until": format_time(account.locked_until)})
        else:
            tx.record(actor="system", kind="account.login_failed", payload={"account_id": account.id})
    # Outside the transaction: the failure count above must be committed, not rolled back by the raise.
    raise AuthError(ErrorCode.LOGIN_FAILED, _FAILED)


def revoke(store: Store, verified: VerifiedToken) -> None:
    """Revoke a token until it expires. Revocations of tokens that have expired anyway are pruned here."""
    with store.write() as tx:
        tx.session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= tx.now()))
        if tx.session.get(RevokedToken, verified.jti) is None:
            tx.revoke_token(verified.jti, verified.expires_at)
            tx.record(actor=verified.principal.actor, kind="token.revoked", payload={"jti": verified.jti})


def current_principal(store: Store, verified: VerifiedToken) -> Principal:
    """Who a verified token speaks for now, in one read: refused if it was revoked or its account disabled
    since; a supervisor's token that names no sessions (every login's) gets the account's assignments as they
    stand. A token minted with sessions of its own (``evalroom token issue --supervise``) keeps exactly those.
    An open event stream checked its token when it subscribed and re-checks only revocation (is_revoked)."""
    principal = verified.principal
    with store.read() as s:
        if s.get(RevokedToken, verified.jti) is not None:
            raise AuthError(ErrorCode.TOKEN_REVOKED, "the token was revoked; log in again")
        if principal.role in _STAFF and s.scalar(select(Account.disabled).where(
                Account.username == principal.subject)):
            raise AuthError(ErrorCode.TOKEN_REVOKED, "the account was disabled")
        if principal.role is Role.SUPERVISOR and not principal.supervised:
            principal = replace(principal, supervised=_assignments(s, principal.subject))
    return principal


_STAFF = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR})


def is_revoked(store: Store, jti: str) -> bool:
    with store.read() as s:
        return s.get(RevokedToken, jti) is not None
