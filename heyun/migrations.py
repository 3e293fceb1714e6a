"""Alembic migrations per service, driven from code so no service needs its own alembic.ini.

Each service keeps ``migrations/env.py`` (two lines calling ``run_env``) and ``migrations/versions/``.
"""
from alembic import command, context
from alembic.config import Config

from heyun.config import service_dir
from heyun.db import make_engine
from heyun.outbox import kernel_metadata


def alembic_config(service, url):
    config = Config()
    config.set_main_option("script_location", str(service_dir(service) / "migrations"))
    # ConfigParser would read "%" in a password as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service, url, revision="head"):
    command.upgrade(alembic_config(service, url), revision)


def run_env(target_metadata):
    """Body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    metadata = [target_metadata, kernel_metadata]
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_kernel_tables(op):
    """Called from each service's first migration: the outbox and processed-event tables."""
    kernel_metadata.create_all(op.get_bind())


def drop_kernel_tables(op):
    kernel_metadata.drop_all(op.get_bind())
