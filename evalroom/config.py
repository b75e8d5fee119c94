"""Configuration: defaults, then an optional TOML file, then ``EVALROOM_*`` environment variables.

Validated once at start (:func:`load_settings`); anything wrong raises :class:`~evalroom.errors.ConfigError`
naming the setting and where it came from, before a socket is opened. Unknown keys in the file and unknown
``EVALROOM_*`` variables are errors, not ignored: a misspelt setting that silently falls back to its default is
how a production coordinator ends up on the demo database. The reference is docs/configuration.md.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from evalroom.domain.fees import FeeTables, load_fee_tables
from evalroom.domain.workdays import WorkCalendar, load_calendar
from evalroom.errors import ConfigError

__all__ = ["ENV_PREFIX", "IceServer", "Settings", "load_settings"]

ENV_PREFIX = "EVALROOM_"
# Variables with this prefix belong to the test suite and tools, not to the coordinator.
_ENV_IGNORED_PREFIXES = ("EVALROOM_TEST_",)
_ENV_CONFIG_FILE = "EVALROOM_CONFIG"


def _load_calendar_file(path: Path) -> WorkCalendar:
    try:
        return load_calendar(path.read_text(encoding="utf-8"))
    except (OSError, ConfigError) as e:
        raise ValueError(f"cannot load {path}: {e}") from e


def _load_fee_tables_file(path: Path) -> FeeTables:
    try:
        return load_fee_tables(path.read_text(encoding="utf-8"))
    except (OSError, ConfigError) as e:
        raise ValueError(f"cannot load {path}: {e}") from e


class IceServer(BaseModel):
    """A STUN or TURN server, as WebRTC's RTCIceServer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    urls: str | tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Settings(BaseModel):
    """Every setting of the coordinator. Field docs are the reference; docs/configuration.md mirrors them."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    environment: Literal["development", "production"] = "production"
    """``development`` allows conveniences that must never reach production: today, a coordinator on a shared
    (PostgreSQL) database may create its own token key when none is provisioned."""
    data_dir: Path = Path("evalroom-data")
    """Where the embedded default keeps its state: the SQLite database and the token keys."""
    database_url: str | None = None
    """SQLAlchemy URL. Unset: SQLite at ``<data_dir>/evalroom.db``. PostgreSQL:
    ``postgresql+psycopg://user:password@host/dbname``."""
    key_dir: Path | None = None
    """Where the token-signing keys live. Unset: ``<data_dir>/keys``."""
    auto_migrate: bool = True
    """Upgrade the database schema at start. Turn off where migrations are run as a separate step."""

    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    """0 picks any free port (tests, the demo)."""
    public_url: str | None = None
    """The URL people and agents reach the coordinator at, for printed links. Unset: http://host:port."""

    issuer: str = Field(default="evalroom", min_length=1, max_length=200)
    """The ``iss`` of every token this coordinator issues and the only one it accepts."""
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    """Lifetime of access tokens. Short on purpose: bindings (venue, session, seat) live in the token."""
    login_max_failures: int = Field(default=5, ge=1, le=100)
    """Failed logins in a row that lock an account."""
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    """Largest request body accepted; larger ones get 413 ``body_too_large`` before they are read."""
    event_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often a coordinator looks for events written by other coordinator processes (shared database)."""
    websocket_auth_seconds: float = Field(default=10, gt=0, le=300)
    """How long a websocket client has to authenticate before it is closed."""

    # --- pairing venues (sites) ---
    blind_pairing: bool = True
    """四不知: a guest operator never learns the project or the host before the session starts, and the host
    operators do not learn which guest venues were drawn until check-in opens. On by default, as the rules
    for remote evaluation ask; turn off only where the local rules allow the host to choose its guests."""
    local_timezone: str = "Asia/Shanghai"
    """The time zone that "midnight" and the dates shown to guests are in."""
    booking_may_cross_midnight: bool = False
    """Whether an offer's window may run past local midnight. Off by default: trading centres close at night,
    and a session that cannot finish in a day is adjourned and booked again."""
    offer_response_minutes: int = Field(default=120, ge=1, le=14 * 24 * 60)
    """How long a guest has to answer an offer when the host gives no deadline (never past the window start)."""
    housekeeping_seconds: float = Field(default=5, gt=0, le=300)
    """How often the coordinator expires overdue offers and marks silent venues offline."""
    background_jobs: bool = True
    """Whether this process may run the coordinator-wide background jobs (the transparency log's batches,
    housekeeping, expiries, the sequencer's safety net). With several processes on one PostgreSQL only one runs
    them at a time (api/cluster.py); false makes a process that only serves."""
    site_heartbeat_seconds: float = Field(default=10, gt=0, le=300)
    """How often a site agent sends a heartbeat (told to the agent when it connects)."""
    site_offline_after_seconds: float = Field(default=30, gt=0, le=3600)
    """A venue whose agent sent no heartbeat for this long is marked offline."""
    site_message_skew_seconds: float = Field(default=120, gt=0, le=3600)
    """How far a signed site-link message's timestamp may be from the receiver's clock."""

    # --- the committee ---
    specialty_tree_file: Path | None = None
    """The specialty classification (JSON, docs/formats.md). Unset: the built-in tree shaped like the national
    2018 classification (evalroom/data/specialties.json)."""
    committee_rules_file: Path | None = None
    """The committee-size rules by project type (TOML). Unset: evalroom/data/committee_rules.toml, with the
    national minimums and its sources."""
    avoid_same_tenderer_days: int = Field(default=90, ge=0, le=3650)
    """An expert who evaluated for the same tenderer within this many days before the session is not drawn
    (a local rule; 0 turns it off)."""
    check_in_lead_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    """How long before the scheduled start the host may open check-in (and with it, end 四不知 for itself)."""
    expert_login_code_minutes: int = Field(default=10, ge=1, le=120)
    """How long the one-time login code an expert gets at check-in stays valid."""
    fault_continue_hours: float = Field(default=4.0, gt=0, le=72)
    """A fault during evaluation fixed within this long lets the evaluation continue; after it the documents
    are sealed and a new committee re-evaluates (a local rule; shared/domain.md "Session states")."""
    postpone_after_hours: float = Field(default=2.0, gt=0, le=72)
    """A fault before the start lasting this long past the scheduled start lets the tenderer postpone."""
    extension_minutes: int = Field(default=60, ge=1, le=24 * 60)
    """How much later the evaluation period ends when more than a third of the committee asks for time."""
    report_font_file: Path | None = None
    """A CJK font (OpenType/TrueType) for the report PDF. Unset: Noto Sans CJK SC from the mplfonts package."""
    seal_dir: Path | None = None
    """The coordinator's seal and time-stamping unit: the output of ``evalroom pki generate`` for a declaration
    with a ``[coordinator]`` (services/seal.py). Unset: ``<key_dir>/seal``, made on first use on the embedded
    default and in development."""
    seal_pin: SecretStr | None = None
    """The PIN of the seal's key store. Unset for a seal the coordinator made itself (its PIN is kept beside
    it, mode 0600)."""
    signing_authorisation_minutes: int = Field(default=5, ge=1, le=60)
    """How long a second factor's authorisation to sign one document stays usable."""
    recordings_dir: Path | None = None
    """Where the media worker records (a directory per session, publisher and track). Unset:
    ``<data_dir>/recordings``."""
    media_segment_seconds: float = Field(default=4.0, ge=1, le=60)
    """How long a recorded segment runs before it is closed, hashed and logged: the most a crash can lose."""
    media_event_seconds: float = Field(default=5.0, gt=0, le=60)
    """How long the recording lines of a session are gathered before they are logged as one event (a track's
    seal at once): the session's readers get one event every few seconds instead of one per segment."""
    media_ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN servers for venues behind NAT, as RTCIceServer dictionaries
    (``[{"urls": "turn:turn.example:3478", "username": "...", "credential": "..."}]``); given to the relay and to
    every client that joins a media room."""
    media_backend: Literal["embedded", "janus"] = "embedded"
    """``embedded``: the relay worker the coordinator starts (media/worker.py). ``janus``: the Janus nodes of
    ``janus_urls``, each session's room on one of them."""
    janus_urls: tuple[str, ...] = ()
    """The Janus nodes' websocket API URLs (``ws://host:8188``), for ``media_backend = "janus"``."""
    log_origin: str | None = None
    """The transparency log's origin line in its checkpoints (a schema-less URL, e.g.
    ``coordinator.example/evalroom-log``). Unset: the public URL's host name + ``/evalroom-log``."""
    log_batch_seconds: float = Field(default=1.0, gt=0, le=300)
    """How often the log appends the public facts recorded since its last batch, under one signed checkpoint."""
    work_calendar_file: Path | None = None
    """The official calendar (TOML: ``holidays = [...]``, make-up ``workdays = [...]``, dates as YYYY-MM-DD;
    docs/formats.md) that complaint deadlines count working days in. Load each year's State Council notice.
    Unset: Monday to Friday, which counts a holiday week as working days."""
    fee_tables_file: Path | None = None
    """The experts' fee tables per region (TOML, docs/formats.md "Expert fee tables"). Checked at start, and read
    again for each fee batch, so that next year's tables need no restart (a batch keeps the tables it was
    computed with). Unset: no tables, and fee batches are refused with ``unknown_fee_table``."""
    fee_payer: Literal["host", "venue"] = "host"
    """Who pays the experts (domain/fees.py): ``host`` — the host venue pays every expert of the session on the
    tenderer's behalf, one batch (统一支付); ``venue`` — each venue pays the experts who sat there."""
    rating_suspend_below: int = Field(default=60, ge=0, le=100)
    """A rating below this (from the host or the tenderer) suspends an active expert from the pool until the
    admin lifts it (domain/ratings.py); 0 turns the rule off."""
    janus_recordings_dir: Path | None = None
    """Where the Janus nodes write their ``.mjr`` recordings (the VideoRoom ``rec_dir``), as this coordinator
    reads it (the same machine, or shared storage)."""
    seat_signer_url: str = Field(default="http://127.0.0.1:47300", pattern=r"^http://(127\.0\.0\.1|localhost):\d{1,5}$")
    """Where the expert's page finds the seat's local signer (``evalroom seat-signer``), which holds the key:
    always on the seat's own loopback. The pages' Content-Security-Policy allows connections to it."""

    # --- operating it: metrics and logs (docs/operations.md "Metrics and logs") ---
    metrics_access: Literal["loopback", "token", "off"] = "loopback"
    """Who may read ``GET /metrics`` (Prometheus): ``loopback`` — clients on this machine only (127.0.0.0/8,
    ::1); behind a reverse proxy on the same host every client looks like loopback, so do not route /metrics
    through it; ``token`` — anyone with ``metrics_token`` as a bearer token; ``off`` — the route answers 404."""
    metrics_token: SecretStr | None = None
    """The bearer token for ``metrics_access = "token"`` (give it as ``EVALROOM_METRICS_TOKEN``). A secret, compared
    in constant time; at least 16 characters, e.g. ``openssl rand -hex 32``."""
    log_format: Literal["text", "json"] = "text"
    """``text``: one human-readable line per message. ``json``: one JSON object per line (time, level, logger,
    message, the request id inside a request, the exception), for a log collector."""

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None
        return name

    @field_validator("media_ice_servers", mode="before")
    @classmethod
    def _ice_servers_json(cls, value: object) -> object:
        """From the environment the list comes as JSON text."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("must be a JSON list of RTCIceServer objects") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if url.startswith("postgresql://"):  # the driver we ship; plain postgresql:// would ask for psycopg2
            return "postgresql+psycopg://" + url[len("postgresql://"):]
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError(f"must be a sqlite:/// or postgresql+psycopg:// URL (got {url!r})")
        return url

    @field_validator("janus_urls", mode="before")
    @classmethod
    def _urls_list(cls, value: object) -> object:
        """From the environment: comma-separated."""
        return tuple(u.strip() for u in value.split(",") if u.strip()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _janus_complete(self) -> Settings:
        if self.media_backend == "janus" and not (self.janus_urls and self.janus_recordings_dir):
            raise ValueError("media_backend janus needs janus_urls and janus_recordings_dir")
        return self

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_strong(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not 16 <= len(token.get_secret_value()) <= 256:
            raise ValueError("must be 16 to 256 characters (e.g. the output of 'openssl rand -hex 32')")
        return token

    @model_validator(mode="after")
    def _metrics_token_given(self) -> Settings:
        if self.metrics_access == "token" and self.metrics_token is None:
            raise ValueError("metrics_access token needs metrics_token (e.g. EVALROOM_METRICS_TOKEN)")
        return self

    @model_validator(mode="after")
    def _heartbeat_fits(self) -> Settings:
        if self.site_offline_after_seconds <= self.site_heartbeat_seconds:
            raise ValueError("site_offline_after_seconds must be longer than site_heartbeat_seconds, or every venue "
                             "would flap offline between two heartbeats")
        return self

    # Derived values. Kept as properties so that there is one source of truth for each.
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'evalroom.db').resolve()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.local_timezone)

    @property
    def effective_key_dir(self) -> Path:
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def ice_servers(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.media_ice_servers]

    @field_validator("work_calendar_file")
    @classmethod
    def _calendar_loads(cls, path: Path | None) -> Path | None:
        if path is not None:
            _load_calendar_file(path)
        return path

    @field_validator("fee_tables_file")
    @classmethod
    def _fee_tables_load(cls, path: Path | None) -> Path | None:
        if path is not None:
            _load_fee_tables_file(path)
        return path

    def fee_tables(self) -> FeeTables:
        """The fee tables as the file says now (read on every call: see ``fee_tables_file``)."""
        if self.fee_tables_file is None:
            return FeeTables()
        try:
            return load_fee_tables(self.fee_tables_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"fee_tables_file: cannot read {self.fee_tables_file}: {exc.strerror}") from None

    @cached_property
    def work_calendar(self) -> WorkCalendar:
        return WorkCalendar() if self.work_calendar_file is None else _load_calendar_file(self.work_calendar_file)

    @property
    def effective_recordings_dir(self) -> Path:
        return self.recordings_dir if self.recordings_dir is not None else self.data_dir / "recordings"

    @property
    def is_embedded(self) -> bool:
        """True on the embedded default (one process, SQLite), where the coordinator may create its own keys."""
        return self.effective_database_url.startswith("sqlite")


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    known = set(Settings.model_fields)
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == _ENV_CONFIG_FILE or name.startswith(_ENV_IGNORED_PREFIXES):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key not in known:
            raise ConfigError(f"unknown environment variable {name} (known: {', '.join(sorted(ENV_PREFIX + k.upper() for k in known))})")
        values[key] = raw
    return values


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    known = set(Settings.model_fields)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from defaults < TOML file < environment < ``overrides`` (command-line flags).

    The file is ``config_file`` or, if not given, ``$EVALROOM_CONFIG`` when set.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    file_path = config_file or (Path(env[_ENV_CONFIG_FILE]) if env.get(_ENV_CONFIG_FILE) else None)
    if file_path is not None:
        for k, v in _from_file(file_path).items():
            values[k], sources[k] = v, str(file_path)
    for k, v in _from_env(env).items():
        values[k], sources[k] = v, ENV_PREFIX + k.upper()
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k], sources[k] = v, "command line"
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            where = f" (from {sources[key]})" if key in sources else ""
            problems.append(f"{key or 'settings'}{where}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
