"""Two tiny services that exercise the kernel's guarantees without any domain in the way."""
from marshmallow import Schema, fields
from nameko.rpc import rpc
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from heyun.db import Database
from heyun.events import EventType
from heyun.handlers import idempotent_handler
from heyun.outbox import record

metadata = MetaData()
tallies = Table("tallies", metadata, Column("key", String(50), primary_key=True),
                Column("count", Integer, nullable=False))
# A key listed here has been "fixed by an operator": its handler stops failing.
cures = Table("cures", metadata, Column("key", String(50), primary_key=True))


class KeySchema(Schema):
    key = fields.String(required=True)


KEY_ANNOUNCED = EventType("key_announced", KeySchema, "A key was announced.")


class Announcer:
    name = "announcer"
    db = Database()

    @rpc
    def announce(self, key):
        with self.db.transaction() as session:
            record(session, KEY_ANNOUNCED, {"key": key})


def count_of(session, key):
    return session.execute(select(tallies.c.count).where(tallies.c.key == key)).scalar() or 0


class Tally:
    name = "tally"
    db = Database(relay_outbox=False)

    @idempotent_handler("announcer", "key_announced")
    def on_key_announced(self, session, data, event):
        key = data["key"]
        if count_of(session, key):
            session.execute(update(tallies).where(tallies.c.key == key)
                            .values(count=tallies.c.count + 1))
        else:
            session.execute(tallies.insert().values(key=key, count=1))
        if key.startswith("poison") and not session.execute(
                select(cures.c.key).where(cures.c.key == key)).first():
            raise RuntimeError(f"cannot handle {key}")
