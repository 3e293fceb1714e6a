"""the grid of each building, as the last building_moved said

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 18:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'recipient_buildings',
        sa.Column('building_id', sa.String(length=36), nullable=False),
        sa.Column('grid_id', sa.String(length=36), nullable=False),
        sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('building_id'),
    )


def downgrade():
    op.drop_table('recipient_buildings')
