"""What a running server answers from: one snapshot generation and its institutions."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

import core_ext
from core_ext import SnapshotData
from service.references import ReferenceNumbers

MAX_ACCEPTED = 100_000
# An Authorization header longer than this is refused unread: `Bearer ` and a key of up
# to a few hundred characters (keys are 22 to about 100 characters in practice).
MAX_AUTHORIZATION = 512


@dataclass
class Generation:
    """An immutable snapshot with its core; swapped in whole by one assignment."""

    core: Any
    institutions: dict[str, str]  # sha256(api key) hex -> institution code
    version: str
    persons: int
    qualifications: int
    loaded_at: float
    applied_change_seq: int = 0
    snapshot_json: bytes = b""  # the `snapshot` object of answers, encoded once
    rate_limits: dict[str, int] = field(default_factory=dict)  # code -> its own requests/s
    # Header values already checked: hashing every request costs more than deciding it.
    # Only an accepted key's plain spelling (`Bearer <key>`, what clients send) is kept,
    # so there is at most one entry per key; other spellings are hashed each time.
    _accepted: dict[bytes, str] = field(default_factory=dict)

    def authorized(self, authorization: bytes) -> str | None:
        """The institution of a `Bearer <key>` header value, or None."""
        institution = self._accepted.get(authorization)
        if institution is not None:
            return institution
        if len(authorization) > MAX_AUTHORIZATION or authorization[:7].lower() != b"bearer ":
            return None
        token = authorization[7:].strip()
        institution = self.institutions.get(hashlib.sha256(token).hexdigest())
        if (
            institution is not None
            and authorization == b"Bearer " + token
            and len(self._accepted) < MAX_ACCEPTED
        ):
            self._accepted[authorization] = institution
        return institution

    def __post_init__(self) -> None:
        self.snapshot_json = orjson.dumps(
            {"version": self.version, "applied_change_seq": self.applied_change_seq}
        )


def generation_of(
    data: SnapshotData,
    institutions: dict[str, str],
    applied_change_seq: int = 0,
    rate_limits: dict[str, int] | None = None,
) -> Generation:
    """A generation answering from one snapshot: a data set's (`DataSet.build`), a mapped file's
    (`core_ext.open_snapshot`) or the database's (`service.db.snapshot.rebuild_snapshot`).
    The follower's `layered_generation` is the only other maker: a base plus an overlay."""
    return Generation(
        core=core_ext.Core(data),
        institutions=dict(institutions),
        version=data.version,
        persons=data.persons,
        qualifications=data.qualifications,
        loaded_at=time.time(),
        applied_change_seq=applied_change_seq,
        rate_limits=dict(rate_limits or {}),
    )


class ServiceState:
    """The current generation (None while loading) and where it came from."""

    def __init__(self, source: str, stale_after: float | None = None) -> None:
        self.source = source
        self.current: Generation | None = None
        # Following a database: when the follower last knew it had every change, and how
        # many persons changed since its base (answered from an overlay).
        self.synced_at: float | None = None
        self.overlay_persons = 0
        self.stale_after = stale_after  # None: a file source never goes stale
        # 照会番号 per institution (service/references.py): filled by the follower.
        self.references = ReferenceNumbers()
        # Set by a stop signal (service/serving.py): no longer ready, still answering.
        self.stopping = False

    def stale(self, now: float) -> bool:
        """The data may be missing changes for longer than the configured bound."""
        return self.stale_after is not None and (
            self.synced_at is None or now - self.synced_at > self.stale_after
        )

    def lag_seconds(self, now: float) -> float:
        """Seconds since the data was last known to be complete (0 for a file source)."""
        if self.stale_after is None or self.synced_at is None:
            return 0.0
        return round(max(0.0, now - self.synced_at), 3)

    @property
    def ready(self) -> bool:
        return self.current is not None and not self.stopping

    def describe(self) -> dict[str, Any]:
        """The body of GET /v1/snapshot."""
        gen = self.current
        if gen is None:
            return {
                "version": None,
                "source": self.source,
                "loaded_at": None,
                "persons": 0,
                "qualifications": 0,
                "applied_change_seq": 0,
                "lag_seconds": None,
            }
        return {
            "version": gen.version,
            "source": self.source,
            "loaded_at": datetime.fromtimestamp(gen.loaded_at, UTC).isoformat(),
            "persons": gen.persons,
            "qualifications": gen.qualifications,
            "applied_change_seq": gen.applied_change_seq,
            "lag_seconds": self.lag_seconds(time.time()),
        }
