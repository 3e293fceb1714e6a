"""gateway: tokens issued before an account change stop working

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Null for an account never changed: every unexpired token of it is good.
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("tokens_valid_after")
