"""Index episodes by cluster and opening time: the board and the API list them newest first.

Revision ID: 0015_episodes_cluster_opened
Revises: 0014_image_layers
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_episodes_cluster_opened"
down_revision: str | None = "0014_image_layers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_episodes_cluster_opened", "episodes", ["cluster", "opened_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_episodes_cluster_opened", table_name="episodes")
