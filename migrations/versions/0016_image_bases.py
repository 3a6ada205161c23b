"""Create image_bases: the base an image's annotations or provenance name, kept for --offline.

Revision ID: 0016_image_bases
Revises: 0015_episodes_cluster_opened
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_image_bases"
down_revision: str | None = "0015_episodes_cluster_opened"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_bases",
        sa.Column("digest", sa.String(length=255), nullable=False),
        sa.Column("base", sa.String(length=512), nullable=False),
        sa.Column("base_digest", sa.String(length=255), nullable=False),
        sa.Column("found_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_image_bases")),
    )


def downgrade() -> None:
    op.drop_table("image_bases")
