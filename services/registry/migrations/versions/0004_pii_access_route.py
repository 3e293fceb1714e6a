"""pii_access_log: the route of each unmasked read, and an index on its time (queries, retention)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pii_access_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('route', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_pii_access_log_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('pii_access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pii_access_log_at'))
        batch_op.drop_column('route')
