"""Create cluster_findings: the latest scan of each cluster (its findings, or why it failed).

Revision ID: 0012_alerts_cluster_findings
Revises: 0011_alerts_episodes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_alerts_cluster_findings"
down_revision: str | None = "0011_alerts_episodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_findings",
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("cluster", name=op.f("pk_cluster_findings")),
    )


def downgrade() -> None:
    op.drop_table("cluster_findings")
