"""Node settings: defaults, then an optional TOML file, then ``KONSORT_*`` variables.

Every setting is documented in docs/operations.md (a test checks that). Secrets
never live here: keys are files under ``<data_dir>/keys`` written with mode 0600.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from node.errors import ConfigurationError

#: The settings file `konsort init` writes into the data directory.
CONFIG_NAME = "konsort.toml"
NODE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Settings(BaseModel):
    """Everything a node is configured with. Immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    node_id: str = Field("node", description="Stable id of this node in the consortium.")
    display_name: str = Field("Konsort node", description="Name shown to people.")
    data_dir: Path = Field(Path("data"), description="Directory for the database and keys.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <data_dir>/konsort.db."
    )
    host: str = Field("127.0.0.1", description="Address `konsort serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `konsort serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes (PostgreSQL only).")
    currency: str = Field("DKK", description="ISO 4217 code of purchases at this node.")
    currency_exponent: int = Field(2, ge=0, le=4, description="Minor units per major unit, 10^n.")
    points_per_currency_unit: int = Field(
        1, ge=0, le=10_000, description="Base earn rate: points per whole currency unit spent."
    )
    point_expiry_days: int = Field(
        365, ge=0, le=36_500, description="Days until earned points expire; 0 means never."
    )
    customer_token_ttl_seconds: int = Field(
        900, ge=30, le=86_400, description="Lifetime of customer API tokens."
    )
    api_key_cache_seconds: int = Field(
        5,
        ge=0,
        le=300,
        description="How long a verified API key is trusted without a database read; "
        "a revoked key stops working within this time. 0 checks every request.",
    )
    max_body_bytes: int = Field(
        65_536, ge=1_024, le=10_485_760, description="Largest accepted request body."
    )
    expiry_interval_seconds: int = Field(
        3600, ge=0, description="How often the node expires due points; 0 turns the job off."
    )
    program_jobs_interval_seconds: int = Field(
        3600,
        ge=0,
        description="How often the node reviews tiers, pays birthday bonuses and announces "
        "expiring points; 0 turns those jobs off.",
    )
    federation_interval_seconds: float = Field(
        1.0,
        ge=0,
        description="How often the node delivers queued protocol messages to peers; 0 turns "
        "delivery off.",
    )
    federation_message_ttl_seconds: int = Field(
        86_400,
        ge=60,
        le=604_800,
        description="Lifetime of the protocol requests this node signs: a peer that first "
        "sees one later rejects it as expired.",
    )
    webhook_interval_seconds: int = Field(
        5, ge=0, description="How often the node sends due webhook deliveries; 0 turns it off."
    )
    retention_interval_seconds: int = Field(
        86_400, ge=0, description="How often the node runs the retention policies; 0 turns it off."
    )
    retention_batch_size: int = Field(
        500, ge=1, le=10_000, description="Items removed per retention transaction."
    )
    retention_inactive_customer_days: int = Field(
        1095,
        ge=0,
        le=36_500,
        description="Days without a transaction after which a member's personal data is "
        "erased; 0 keeps it.",
    )
    retention_withdrawn_consent_days: int = Field(
        1095, ge=0, le=36_500, description="Days a withdrawn consent record is kept; 0 keeps it."
    )
    retention_subject_request_days: int = Field(
        1095,
        ge=0,
        le=36_500,
        description="Days a closed data-subject request record is kept; 0 keeps it.",
    )
    retention_audit_log_days: int = Field(
        1095, ge=0, le=36_500, description="Days an audit log row is kept; 0 keeps it."
    )
    retention_federation_message_days: int = Field(
        180,
        ge=0,
        le=36_500,
        description="Days delivered protocol messages are kept (at least 8); 0 keeps them.",
    )
    retention_bookkeeping_years: int = Field(
        5,
        ge=0,
        le=100,
        description="Years after the end of the financial year of an erased member's last "
        "transaction before its details are anonymised; 0 keeps them.",
    )
    settlement_interval_seconds: int = Field(
        3600,
        ge=0,
        description="How often the node sends its statement of each closed settlement "
        "period to each partner; 0 turns it off (statements are then sent by hand).",
    )
    settlement_period_seconds: int = Field(
        86_400,
        ge=3600,
        le=31_622_400,
        description="Length of a scheduled settlement period, counted from the Unix epoch.",
    )
    log_level: str = Field("INFO", description="Python logging level name.")
    financial_year_end: str = Field(
        "12-31",
        pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        description="Last day (MM-DD) of the financial year; bookkeeping records of an "
        "erased member are kept until five years after the end of the year of their last "
        "transaction.",
    )
    admin_session_idle_minutes: int = Field(
        30, ge=1, le=1440, description="Minutes without a request after which a staff session ends."
    )
    admin_session_absolute_hours: int = Field(
        12, ge=1, le=168, description="Hours after sign-in when a staff session ends regardless."
    )
    admin_require_totp_for_privacy_officers: bool = Field(
        False,
        description="Refuse privacy officer sign-in to accounts without a TOTP second factor.",
    )
    admin_login_max_attempts: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed sign-ins per account in 15 minutes before it is throttled "
        "(a client address may fail four times as often).",
    )
    portal_link_ttl_seconds: int = Field(
        300, ge=30, le=3600, description="Lifetime of a one-time member portal sign-in link."
    )
    portal_session_minutes: int = Field(
        30, ge=1, le=1440, description="Lifetime of a member portal session."
    )
    public_base_url: str = Field(
        "",
        description="Base URL people reach this node at, for links it prints or mints "
        "(portal links); empty means http://<host>:<port>.",
    )
    job_lock_database_url: str = Field(
        "",
        description="PostgreSQL URL for the scheduled jobs' advisory locks when "
        "database_url goes through PgBouncer in transaction pooling; empty uses database_url.",
    )
    shutdown_grace_seconds: float = Field(
        15.0,
        ge=0,
        le=300,
        description="On shutdown, seconds a running job round may take to finish before "
        "it is cancelled (after the last in-flight request is answered).",
    )
    health_metrics_interval_seconds: int = Field(
        15,
        ge=0,
        description="How often each process refreshes the alerting gauges (outbox backlog, "
        "overdue requests, disputes) from the database; 0 turns them off.",
    )
    dev_node: bool = Field(
        False,
        description="This node holds made-up data (development, demos, benchmarks): "
        "`konsort dev` commands may write to it.",
    )
    ledger_verify_interval_seconds: int = Field(
        21_600,
        ge=0,
        description="How often each process verifies the ledger and publishes the result "
        "as konsort_ledger_verify_violations; 0 turns it off.",
    )

    @field_validator("node_id")
    @classmethod
    def _node_id_shape(cls, value: str) -> str:
        if not NODE_ID_PATTERN.match(value):
            raise ValueError("must be 1-63 lowercase letters, digits or '-', not starting with '-'")
        return value

    @field_validator("currency")
    @classmethod
    def _currency_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be a three-letter ISO 4217 code such as DKK")
        return value

    @field_validator("retention_federation_message_days")
    @classmethod
    def _outlives_messages(cls, value: int) -> int:
        if 0 < value < 8:
            raise ValueError("must be 0 (keep) or at least 8: a message lives up to 7 days")
        return value

    @field_validator("log_level")
    @classmethod
    def _level_name(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("financial_year_end")
    @classmethod
    def _real_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        try:
            date(2001, month, day)  # not a leap year: 02-29 would not exist every year
        except ValueError:
            raise ValueError("must be a day every year has, e.g. 12-31 or 06-30") from None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'konsort.db').resolve()}"

    @property
    def resolved_public_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, a TOML file, the environment and overrides.

    Later sources win: TOML < ``KONSORT_*`` environment < keyword overrides.
    ``KONSORT_CONFIG`` names the TOML file when ``config_file`` is not given.
    Raises ConfigurationError with the offending setting named.
    """
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("KONSORT_CONFIG"):
        config_file = Path(environ["KONSORT_CONFIG"])
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigurationError(f"config file {config_file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(
                f"config file {config_file} is not valid TOML: {exc}"
            ) from None
    known = set(Settings.model_fields)
    for name in known:
        env_name = f"KONSORT_{name.upper()}"
        if env_name in environ:
            values[name] = environ[env_name]
    values.update(overrides)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigurationError(f"unknown setting {unknown[0]!r}", field=unknown[0])
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(f"setting {field}: {first['msg']}", field=field) from None
