"""the 33 resident service items

Revision ID: 0002
Revises: 0001
"""
import uuid

import sqlalchemy as sa
from alembic import op

from registry.catalogue import SERVICE_ITEMS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

items = sa.table(
    "service_items",
    sa.column("id", sa.String), sa.column("code", sa.String), sa.column("name", sa.String),
    sa.column("category", sa.String), sa.column("materials", sa.JSON), sa.column("time_limit_days", sa.Integer),
)


def upgrade():
    op.bulk_insert(items, [
        {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"heyun:service-item:{code}")), "code": code, "name": name,
         "category": category, "materials": materials, "time_limit_days": days}
        for code, name, category, materials, days in SERVICE_ITEMS
    ])


def downgrade():
    op.execute(items.delete().where(items.c.code.in_([code for code, *_ in SERVICE_ITEMS])))
