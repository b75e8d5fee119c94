"""The composition root: everything a running coordinator holds, built once from settings.

:func:`build_context` is the only place that creates the engine, the store, the key ring and the token
service, so that the CLI, the app and the tests assemble the coordinator the same way. Nothing is created at
import time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, select

from evalroom.auth.keys import KeyDirectory, KeyRing
from evalroom.auth.sealing import SEALING_KEY_FILE, Sealer, load_or_create_sealer
from evalroom.auth.tokens import TokenService
from evalroom.clock import Clock, SystemClock
from evalroom.committee_config import CommitteeConfig, load_committee_config
from evalroom.config import Settings
from evalroom.errors import ConfigError
from evalroom.services.seal import CoordinatorSeal, load_or_create_seal
from evalroom.storage import migrate
from evalroom.storage.db import make_engine
from evalroom.storage.models import Draw, Expert, SecondFactor
from evalroom.storage.store import Store

__all__ = ["AppContext", "build_context", "load_or_create_keyring", "open_store"]

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    engine: Engine
    store: Store
    keyring: KeyDirectory
    tokens: TokenService
    sealer: Sealer
    committee: CommitteeConfig
    _seal: CoordinatorSeal | None = field(default=None, init=False, repr=False)
    _seal_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def seal(self) -> CoordinatorSeal:
        """The coordinator's seal and time-stamping unit, loaded (or made) on first use: most requests never
        sign, and making the coordinator's own costs an RSA key. Loaded again when its CRLs near their next
        update, so a coordinator that runs for weeks keeps accepting its own seal."""
        with self._seal_lock:
            if self._seal is None or self._seal.stale(self.clock.now()):
                self._seal = load_or_create_seal(self.settings, self.clock)
            return self._seal

    def close(self) -> None:
        self.engine.dispose()


def load_or_create_keyring(settings: Settings, clock: Clock) -> KeyDirectory:
    """Load the token keys; on the embedded default (or in development), create the first one if there is none.

    With a shared PostgreSQL several coordinators must verify each other's tokens, so in production their
    keys are provisioned (``evalroom keys rotate`` into a shared key_dir), never made up by one process.
    """
    key_dir = settings.effective_key_dir
    has_keys = key_dir.is_dir() and any(key_dir.glob("*.pem"))
    if not has_keys:
        if not (settings.is_embedded or settings.environment == "development"):
            raise ConfigError(f"no token-signing key in {key_dir}: with a shared database, provision keys with "
                              "'evalroom keys rotate --key-dir ...' and share the directory between coordinators")
        key = KeyRing.add_key(key_dir, clock.now())
        log.info("created token-signing key %s in %s", key.kid, key_dir)
    return KeyDirectory(key_dir)


def open_store(settings: Settings, clock: Clock) -> Store:
    """The database half of the coordinator: engine, schema (if ``auto_migrate``), unit of work. For commands
    that only touch the database, such as creating the first admin, which must not depend on token keys."""
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    if settings.auto_migrate:
        migrate.upgrade(engine)
    return Store(engine, clock)


def _holds_sealed_data(store: Store) -> bool:
    """Whether the database holds values sealed with a sealing key: a missing key file then means a lost key
    (restore it from the backup), never a reason to make a new one that cannot open them."""
    with store.read() as s:
        return any(s.scalar(select(column).limit(1)) is not None for column in (Expert.id, Draw.id, SecondFactor.id))


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    clock = clock or SystemClock()
    store = open_store(settings, clock)
    keyring = load_or_create_keyring(settings, clock)
    tokens = TokenService(keyring, issuer=settings.issuer, clock=clock,
                          lifetime=timedelta(minutes=settings.access_token_minutes))
    committee = load_committee_config(settings)
    may_make_keys = settings.is_embedded or settings.environment == "development"
    key_missing = not (settings.effective_key_dir / SEALING_KEY_FILE).exists()
    sealer = load_or_create_sealer(settings.effective_key_dir,
                                   may_create=may_make_keys and key_missing and not _holds_sealed_data(store))
    return AppContext(settings=settings, clock=clock, engine=store.engine, store=store, keyring=keyring,
                      tokens=tokens, sealer=sealer, committee=committee)
