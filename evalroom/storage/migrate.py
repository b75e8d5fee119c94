"""Schema migrations (Alembic), driven from code so that no file holds a database URL.

``evalroom db upgrade`` and the coordinator's start (unless ``auto_migrate`` is off) call :func:`upgrade`;
readiness reports ``not_ready`` while :func:`pending` is true.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["current_revision", "downgrade", "head_revision", "pending", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def _run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    with engine.begin() as conn:
        cfg = _config()
        cfg.attributes["connection"] = conn
        step(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending(engine: Engine) -> bool:
    """True when the database schema is not at the newest revision this code knows."""
    return current_revision(engine) != head_revision()


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back (``base`` removes everything). For recovering from a bad release, and for tests."""
    _run(engine, command.downgrade, revision)
