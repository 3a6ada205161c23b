"""Create image_layers: each platform image's layer list, for finding bases by their layers.

Revision ID: 0014_image_layers
Revises: 0013_sightings_pushed_by
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_image_layers"
down_revision: str | None = "0013_sightings_pushed_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_layers",
        sa.Column("digest", sa.String(length=255), nullable=False),
        sa.Column("layers", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_image_layers")),
    )


def downgrade() -> None:
    op.drop_table("image_layers")
