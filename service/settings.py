"""Service configuration: one pydantic-settings class read from ONSHI_* variables."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_ADMIN_TOKEN = 32


class Settings(BaseSettings):
    """Where the data comes from and where to listen (CONTRACT.md §1)."""

    model_config = SettingsConfigDict(env_prefix="ONSHI_")

    data: str | None = None
    snapshot: str | None = None
    demo: bool = False
    demo_members: int = 100_000
    database_url: str | None = None
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Add SNAPSHOT_STALE once database changes may be missing for this long.
    stale_after_seconds: float = 60.0
    # Where the access log lives in --data mode and spills while PostgreSQL is away.
    state_dir: str = "state"

    @model_validator(mode="after")
    def _admin_token_with_database(self) -> Settings:
        # Admin endpoints write to the database: refuse to start them with a guessable token.
        if self.database_url and (self.admin_token is None or len(self.admin_token) < MIN_ADMIN_TOKEN):
            raise ValueError(
                f"ONSHI_ADMIN_TOKEN must be set to at least {MIN_ADMIN_TOKEN} characters "
                "when a database is configured"
            )
        return self

    @property
    def source(self) -> str:
        """Name of the data source, shown by GET /v1/snapshot."""
        if self.demo:
            return "demo"
        if self.data:
            return "csv"
        if self.snapshot:
            return "snapshot"
        return "database" if self.database_url else "none"
