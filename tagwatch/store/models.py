"""The database schema: typed SQLAlchemy models on one DeclarativeBase (migrations/ must agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "BuildPlatformRow",
    "BuildRow",
    "ClusterFindingsRow",
    "EpisodeRow",
    "ImageBaseRow",
    "ImageLayersRow",
    "LeaseRow",
    "MoveEventRow",
    "OutboxRow",
    "SightingRow",
    "SignatureCheckRow",
    "SlackThreadRow",
    "UTCDateTime",
    "WatchRow",
]

#: Deterministic constraint names, so that batch migrations on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: `sha256:<64 hex>` is 71 characters, `sha512:<128 hex>` 135; leave room for other algorithms.
DIGEST = String(255)
HOST = String(255)
REPOSITORY = String(255)
TAG = String(128)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out.

    PostgreSQL stores `timestamptz`. SQLite has no time zones: values are stored as naive UTC
    (fixed-width text, so comparisons stay correct) and made aware again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tagwatch stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class WatchRow(Base):
    """A tag tagwatch keeps a history for."""

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("registry", "repository", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # `registry` is reserved by declarative classes: the attribute is `host`, the column `registry`.
    host: Mapped[str] = mapped_column("registry", HOST)
    repository: Mapped[str] = mapped_column(REPOSITORY)
    tag: Mapped[str] = mapped_column(TAG)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict[str, Any]]
    added_at: Mapped[datetime]


class SightingRow(Base):
    """One span of a tag pointing at one digest (NULL: absent). Append-only.

    `seq` numbers a tag's sightings 1, 2, 3...; the unique (registry, repository, tag, seq)
    constraint is what keeps two concurrent writers from appending the same move twice.
    """

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint("registry", "repository", "tag", "seq"),
        Index("ix_sightings_tag_id", "registry", "repository", "tag", "id"),
        # The feed and `moves since T` walk sightings by time; classifying a move asks whether
        # the tag had its digest before (migration 0008_web_audit_indexes).
        Index("ix_sightings_first_seen", "first_seen", "id"),
        Index("ix_sightings_tag_digest", "registry", "repository", "tag", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # `registry` is reserved by declarative classes: the attribute is `host`, the column `registry`.
    host: Mapped[str] = mapped_column("registry", HOST)
    repository: Mapped[str] = mapped_column(REPOSITORY)
    tag: Mapped[str] = mapped_column(TAG)
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str | None] = mapped_column(DIGEST)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    #: Who pushed, when the push webhook said so (a registry user name, never a secret).
    pushed_by: Mapped[str | None] = mapped_column(String(255))


class BuildRow(Base):
    """What identifies the build behind a digest; a digest never changes, so one row each."""

    __tablename__ = "builds"

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    media_type: Mapped[str] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]


class BuildPlatformRow(Base):
    """One platform child of an image index."""

    __tablename__ = "build_platforms"
    __table_args__ = (Index("ix_build_platforms_child_digest", "child_digest"),)

    index_digest: Mapped[str] = mapped_column(
        DIGEST, ForeignKey("builds.digest", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(128), primary_key=True)
    child_digest: Mapped[str] = mapped_column(DIGEST)


class ImageBaseRow(Base):
    """The base an image's own metadata names (annotations, provenance): fixed by its digest."""

    __tablename__ = "image_bases"

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    base: Mapped[str] = mapped_column(String(512))
    base_digest: Mapped[str] = mapped_column(DIGEST)
    found_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime]


class ImageLayersRow(Base):
    """The layer list of one platform image, bottom first; a digest never changes, so one row."""

    __tablename__ = "image_layers"

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    layers: Mapped[list[Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime]


class OutboxRow(Base):
    """An alert waiting for delivery (delivered once `delivered_at` is set); `key` is unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_outbox_due", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512))
    destination: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None]


class LeaseRow(Base):
    """A named lease one replica holds until `expires_at` (shared work on PostgreSQL)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]


class SlackThreadRow(Base):
    """The first message (thread root) of a tag's thread in one Slack channel, so follow-ups
    find their thread after a restart and on every replica."""

    __tablename__ = "slack_threads"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread: Mapped[str] = mapped_column(String(512), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class SignatureCheckRow(Base):
    """What the signing policy said of a digest when it became a watched tag's: `signed_by`
    when it passed, `reason` when not. The latest check per (repository, digest, policy)."""

    __tablename__ = "signature_checks"
    __table_args__ = (UniqueConstraint("registry", "repository", "digest", "policy"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column("registry", HOST)
    repository: Mapped[str] = mapped_column(REPOSITORY)
    digest: Mapped[str] = mapped_column(DIGEST)
    policy: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    signed_by: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime]


class MoveEventRow(Base):
    """A move appended to the history, to be routed by a service: `pending` until one routes
    it into the outbox (`routed`) or finds it too old to send (`expired`)."""

    __tablename__ = "move_events"
    __table_args__ = (
        UniqueConstraint("sighting_id"),
        Index("ix_move_events_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sighting_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sightings.id", ondelete="CASCADE")
    )
    recorded_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    routed_at: Mapped[datetime | None]


class EpisodeRow(Base):
    """A workload's container skewed, at risk or in a stuck rollout, from the scan that first
    found it until the one that found it fixed (`closed_at`). `fingerprint` is the state last
    alerted (digests, or the predicted change); `payload` the last alert's, for the reply."""

    __tablename__ = "episodes"
    __table_args__ = (
        UniqueConstraint("key", "opened_at"),
        Index("ix_episodes_cluster_open", "cluster", "closed_at"),
        # Lists of a cluster's episodes, newest first (migration 0015_episodes_cluster_opened).
        Index("ix_episodes_cluster_opened", "cluster", "opened_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    cluster: Mapped[str] = mapped_column(String(255))
    condition: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    container: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class ClusterFindingsRow(Base):
    """The latest scan of one cluster: its report (the scan's JSON) when it last succeeded,
    and when and why it last failed."""

    __tablename__ = "cluster_findings"

    cluster: Mapped[str] = mapped_column(String(255), primary_key=True)
    scanned_at: Mapped[datetime | None]
    report: Mapped[dict[str, Any]]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
