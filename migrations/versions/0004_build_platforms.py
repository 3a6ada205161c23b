"""Create build_platforms: the platform children of an image index.

Revision ID: 0004_build_platforms
Revises: 0003_builds
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_build_platforms"
down_revision: str | None = "0003_builds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "build_platforms",
        sa.Column("index_digest", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=128), nullable=False),
        sa.Column("child_digest", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["index_digest"],
            ["builds.digest"],
            name=op.f("fk_build_platforms_index_digest_builds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("index_digest", "platform", name=op.f("pk_build_platforms")),
    )
    with op.batch_alter_table("build_platforms", schema=None) as batch_op:
        batch_op.create_index("ix_build_platforms_child_digest", ["child_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("build_platforms", schema=None) as batch_op:
        batch_op.drop_index("ix_build_platforms_child_digest")
    op.drop_table("build_platforms")
