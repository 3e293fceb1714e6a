"""Indexes for the lists at a city's size: each list's order and the tag filter

The resident and household lists order by address (building number, unit, floor, room) and
then by name or id: PostgreSQL walks buildings and dwellings by their unique indexes and needs
the residents (households) of a dwelling in (name, id) order to stop after one page instead of
sorting every row. The grid workers' list orders by (name, id). The tag filter asks
``string_to_array(tags, ',') @> ARRAY[tag]`` on PostgreSQL, which a GIN index on that expression
answers (a ``LIKE '%,tag,%'`` could only scan). Age filters use ``ix_residents_birth_date``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 19:20:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # The composite indexes begin with the foreign key, so they serve its lookups as the
    # single-column ones did.
    op.create_index('ix_residents_dwelling_order', 'residents', ['dwelling_id', 'name', 'id'])
    op.drop_index('ix_residents_dwelling_id', table_name='residents')
    op.create_index('ix_households_dwelling_order', 'households', ['dwelling_id', 'id'])
    op.drop_index('ix_households_dwelling_id', table_name='households')
    op.create_index('ix_grid_workers_name_order', 'grid_workers', ['name', 'id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_residents_tag_set ON residents USING gin (string_to_array(tags, ','))")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_residents_tag_set', table_name='residents')
    op.drop_index('ix_grid_workers_name_order', table_name='grid_workers')
    op.create_index('ix_households_dwelling_id', 'households', ['dwelling_id'])
    op.drop_index('ix_households_dwelling_order', table_name='households')
    op.create_index('ix_residents_dwelling_id', 'residents', ['dwelling_id'])
    op.drop_index('ix_residents_dwelling_order', table_name='residents')
