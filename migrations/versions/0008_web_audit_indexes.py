"""Index sightings for the audit reads: by time (the feed, moves since T) and by tag and digest.

Revision ID: 0008_web_audit_indexes
Revises: 0007_slack_threads
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_web_audit_indexes"
down_revision: str | None = "0007_slack_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sightings_first_seen", "sightings", ["first_seen", "id"])
    op.create_index(
        "ix_sightings_tag_digest", "sightings", ["registry", "repository", "tag", "digest"]
    )


def downgrade() -> None:
    op.drop_index("ix_sightings_tag_digest", table_name="sightings")
    op.drop_index("ix_sightings_first_seen", table_name="sightings")
