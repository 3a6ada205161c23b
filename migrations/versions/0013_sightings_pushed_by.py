"""Add sightings.pushed_by: who pushed, when the registry's webhook said so.

Revision ID: 0013_sightings_pushed_by
Revises: 0012_alerts_cluster_findings
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sightings_pushed_by"
down_revision: str | None = "0012_alerts_cluster_findings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("pushed_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("pushed_by")
