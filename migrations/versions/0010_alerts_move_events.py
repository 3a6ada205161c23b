"""Create move_events: one per appended sighting, for the service to route and deliver.

Revision ID: 0010_alerts_move_events
Revises: 0009_signature_checks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_alerts_move_events"
down_revision: str | None = "0009_signature_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "move_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sighting_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_move_events_sighting_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_move_events")),
        sa.UniqueConstraint("sighting_id", name=op.f("uq_move_events_sighting_id")),
    )
    with op.batch_alter_table("move_events", schema=None) as batch_op:
        batch_op.create_index("ix_move_events_state", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("move_events", schema=None) as batch_op:
        batch_op.drop_index("ix_move_events_state")
    op.drop_table("move_events")
