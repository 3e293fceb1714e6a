"""the end of the event a notice announces

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, no default: a notice that names no end (a policy, an activity) stays as it was.
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('ends')
