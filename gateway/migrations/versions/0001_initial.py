"""gateway: accounts and idempotent requests

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from heyun.migrations import create_kernel_tables, drop_kernel_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("organization_id", sa.String(36)),
        sa.Column("resident_id", sa.String(36)),
        sa.Column("organization_kind", sa.String(50)),
        sa.Column("resident_name", sa.String(100)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("content_type", sa.String(100)),
        sa.Column("response_body", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account", "key", name="uq_idempotent_requests_account_key"),
    )
    create_kernel_tables(op)


def downgrade():
    drop_kernel_tables(op)
    op.drop_table("idempotent_requests")
    op.drop_table("accounts")
