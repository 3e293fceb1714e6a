"""One page of a list, by offset or by cursor, with a total that does not scan a large table.

A list orders by ``keys``: columns, none of them null, whose last is unique, so the order is
total and stable. An offset page skips rows (the database still reads them: page 20,000 of a
million-row list reads a million rows); a cursor page starts after the row the cursor names
(``WHERE keys > cursor``), which an index on the keys finds at once at any depth. The cursor is
opaque to callers: the URL-safe base64 of the last row's key values, with a fingerprint of the
order so a cursor from one list is refused by another. Opaque is not secret (base64 is no
encryption): a list must order by fields that every caller who may page it sees on the page.

The total is exact up to ``EXACT_UP_TO`` rows (a count that stops there); past that it is the
planner's estimate (``EXPLAIN``), marked ``total_estimated``, since counting a million rows costs
what the whole page should. SQLite (the unit tier, a demo) has no usable estimate: it counts.
"""
import json
from datetime import date

from sqlalchemy import and_, func, literal_column, select, tuple_

from heyun.schemas import bad_cursor, decode_cursor, encode_cursor, order_fingerprint

EXACT_UP_TO = 10_000


def _after(keys, cursor):
    """``keys > cursor`` as SQL, after checking the cursor's values fit ``keys`` (count, types)."""
    fingerprint, *values = decode_cursor(cursor)
    if fingerprint != order_fingerprint(keys) or len(values) != len(keys):
        raise bad_cursor("A cursor from another list or order.")
    typed = []
    for key, value in zip(keys, values):
        wanted = key.type.python_type
        if wanted is date and isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise bad_cursor() from None
        elif not isinstance(value, wanted):
            raise bad_cursor()
        typed.append(value)
    # A row comparison, which PostgreSQL answers from a B-tree index on the same columns. When the
    # keys span joined tables no one index has them all, so the first key's bound is repeated
    # alone: the walk in key order then starts at the cursor instead of at the first row.
    return and_(tuple_(*keys) > tuple_(*typed), keys[0] >= typed[0])


def page(session, query, paging, to_dict, keys=None):
    """``{"items", "total", "total_estimated", "next_cursor"}`` for one page of ``query``.

    With ``keys`` the list orders by them (the query's own ORDER BY is replaced) and pages by
    cursor as well as by offset: ``next_cursor`` is given on either kind of page when more rows
    follow, so a client may start by offset and go on by cursor. Without ``keys`` (an order no
    row comparison can follow, such as newest first) the query's order stands, offsets only.
    ``paging`` is ``{"limit", "offset", "cursor"}`` as ``heyun.schemas.listing`` loads it.
    """
    limit, offset, cursor = paging["limit"], paging.get("offset", 0), paging.get("cursor")
    keys = tuple(keys or ())
    paged = query.order_by(None).order_by(*keys).add_columns(*keys) if keys else query
    if cursor:
        paged = paged.where(_after(keys, cursor))
    # One row past the page says whether another page follows, without a count.
    rows = session.execute(paged.limit(limit + 1).offset(offset)).all()
    more, rows = len(rows) > limit, rows[:limit]
    width = len(rows[0]) - len(keys) if rows else 0
    next_cursor = encode_cursor([_plain(v) for v in rows[-1][width:]], keys) if more and keys else None
    if not more and not cursor and (rows or offset == 0):
        total, estimated = offset + len(rows), False  # the last page tells the total
    else:
        total, estimated = count(session, query.order_by(None))
    return {"items": [to_dict(*row[:width]) for row in rows], "total": total,
            "total_estimated": estimated, "next_cursor": next_cursor}


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def count(session, query):
    """``(total, estimated)`` for ``query``: exact up to ``EXACT_UP_TO``, else the planner's estimate.

    The planner is asked first, since that costs no rows: when it expects well past the cap,
    counting to the cap would only confirm it. Otherwise the count stops at the cap, so it reads
    at most that many rows; if it reaches the cap the planner was wrong and its figure (or the
    cap, if larger) stands, marked as an estimate.
    """
    estimate = planner_rows(session, query)
    if estimate is not None and estimate > 2 * EXACT_UP_TO:
        return estimate, True
    # Only the FROM and WHERE matter to a count: selecting a constant lets PostgreSQL drop the
    # outer joins nothing reads (to unique keys) instead of joining every counted row.
    capped = query.with_only_columns(literal_column("1"), maintain_column_froms=True).limit(EXACT_UP_TO + 1)
    counted = session.execute(select(func.count()).select_from(capped.subquery())).scalar()
    if counted <= EXACT_UP_TO:
        return counted, False
    return max(estimate or 0, counted), True


def planner_rows(session, query):
    """PostgreSQL's estimate of the rows ``query`` returns (``EXPLAIN``, no execution), or None
    on a database that gives none."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
