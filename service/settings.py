"""Service configuration: one pydantic-settings class read from ONSHI_* variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_ADMIN_TOKEN = 32


class LogSettings(BaseSettings):
    """How every command logs; read before anything else, so that even a bad setting is logged."""

    model_config = SettingsConfigDict(env_prefix="ONSHI_")

    # json: one object per line (the container's default); text: for a terminal.
    log_format: Literal["text", "json"] = "text"


class Settings(LogSettings):
    """Where the data comes from, where to listen and how to stop (CONTRACT.md §1)."""

    data: str | None = None
    snapshot: str | None = None
    demo: bool = False
    demo_members: int = 100_000
    database_url: str | None = None
    # A standby for the follower's reads (loads, catch-up, overlays); LISTEN, the access log
    # and admin upserts stay on database_url, the primary.
    database_read_url: str | None = None
    # Seconds to wait for a new PostgreSQL connection: short, because whoever waits has
    # something better to do meanwhile (keep access records in files, keep serving, answer 503).
    connect_timeout: float = Field(default=3.0, gt=0)
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Add SNAPSHOT_STALE once database changes may be missing for this long.
    stale_after_seconds: float = 60.0
    # Where the access log lives in --data mode, and its unsaved files with a database.
    state_dir: str = "state"
    # On SIGTERM: /v1/readyz answers 503 at once, confirmations are answered this long more,
    # then the listener closes (service/serving.py).
    drain_seconds: float = Field(default=0.0, ge=0)
    # Then requests in flight get this long to finish before they are cancelled.
    shutdown_timeout: float = Field(default=20.0, ge=0)
    # A request's headers must arrive within this many seconds of the connection (or of the
    # request's first byte on a kept-alive one), its body within body_timeout of the headers;
    # else 408 and the connection is closed (service/slowclients.py).
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    # Requests per second per institution (0: no limit), counted across the workers of one
    # server; bursts of rate_burst (default: one second's worth); batch items per minute
    # per institution (0: no limit).  Over a limit: 429 RATE_LIMITED (service/ratelimit.py).
    rate_limit: float = Field(default=0.0, ge=0)
    rate_burst: float | None = Field(default=None, ge=1)
    rate_limit_items: float = Field(default=0.0, ge=0)
    # Number-path misses per institution per hour before its number path is refused (429),
    # and wrong birthdates per institution and key per day in Japan before that key is
    # refused to it until midnight; 0 turns either off (service/probing.py).
    miss_limit: int = Field(default=1000, ge=0)
    key_miss_limit: int = Field(default=5, ge=0)
    # HTTPS served directly (service/tls.py): a PEM certificate chain and its key.  With
    # ssl_ca_certs and client_cert "optional" or "required", clients present certificates
    # from that CA, and one whose institution code differs from its API key's gets 403.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_ca_certs: str | None = None
    client_cert: Literal["none", "optional", "required"] = "none"
    # Authenticates snapshot files (HMAC-SHA-256): written with it, refused without it.
    # core_ext._file reads it from the environment itself, so every writer and reader
    # (workers, `onshi snapshot build`, `onshi snapshot fetch`) applies it.
    snapshot_key: str | None = Field(default=None, min_length=32)
    # Keep each institution's card-path answers for its feed (GET /v1/confirmations/feed,
    # service/feed.py); off by default: the answers are written to the state directory.
    feed: bool = False
    # Open connections per worker beyond which a new one is answered 503 and closed
    # (default: 1,000, or the open-file limit less 64 where that is lower).
    max_connections: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _admin_token_with_database(self) -> Settings:
        # Admin endpoints write to the database and show who looked whom up: refuse a
        # guessable token in every mode, and require one with a database.
        short = self.admin_token is not None and len(self.admin_token) < MIN_ADMIN_TOKEN
        if short or (self.database_url and self.admin_token is None):
            raise ValueError(
                f"ONSHI_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN} characters "
                "(and is required when a database is configured)"
            )
        return self

    @model_validator(mode="after")
    def _client_certificates_need_tls(self) -> Settings:
        if self.client_cert != "none" and not (self.ssl_certfile and self.ssl_ca_certs):
            raise ValueError(
                "ONSHI_CLIENT_CERT needs HTTPS: set ONSHI_SSL_CERTFILE (and ONSHI_SSL_KEYFILE) and "
                "ONSHI_SSL_CA_CERTS, the CA that issues the clients' certificates"
            )
        return self

    def environment(self) -> dict[str, str | None]:
        """These settings as the ONSHI_* variables that make `Settings()` equal to them
        (None: unset the variable), for worker processes."""
        prefix = self.model_config.get("env_prefix", "")
        values = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            values[f"{prefix}{name}".upper()] = None if value is None else str(value)
        return values

    @property
    def source(self) -> str:
        """Name of the data source, shown by GET /v1/snapshot."""
        if self.demo:
            return "demo"
        if self.data:
            return "csv"
        if self.database_url:  # with a snapshot file too: the file is the base it follows from
            return "database"
        return "snapshot" if self.snapshot else "none"
