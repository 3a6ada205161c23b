"""Create signature_checks: each watched digest's verdict under its signing policy.

Revision ID: 0009_signature_checks
Revises: 0008_web_audit_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_signature_checks"
down_revision: str | None = "0008_web_audit_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signature_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("signed_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_checks")),
        sa.UniqueConstraint(
            "registry",
            "repository",
            "digest",
            "policy",
            name=op.f("uq_signature_checks_registry_repository_digest_policy"),
        ),
    )


def downgrade() -> None:
    op.drop_table("signature_checks")
