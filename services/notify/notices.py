"""Notices: publishing, who may see them, their delivery statistics, acknowledgements, the inbox,
door-to-door tasks, updates and cancellations, and escalation when an acknowledgement is missed."""
from datetime import timezone

from sqlalchemy import case, func, or_, select, update

from community import policy, roles
from heyun.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from heyun.identity import Caller
from heyun.outbox import record
from notify import fanout
from notify.contract import (
    NOTICE_ACKNOWLEDGED,
    NOTICE_CANCELLED,
    NOTICE_ESCALATED,
    NOTICE_PUBLISHED,
    Channel,
    DeliveryStatus,
    MsgType,
    NoticeStatus,
    RecipientType,
    Urgency,
)
from notify.models import Delivery, Notice, OrganizationRecipient, ResidentRecipient, utcnow
from notify.templates import personalise

# Who is told when organisations miss an acknowledgement deadline: the community office.
ESCALATION_ROLES = roles.COMMUNITY_OFFICE
# A recipient's standing on a notice is its best delivery: acknowledged beats delivered beats sent…
# pending (to be sent now) beats held (waiting for quiet hours to end): each recipient is counted
# once, so the statistics add up to the recipients.
NOTIFY = Caller(account="notify")  # notify itself, as the issuer of escalations and rule notices
STANDINGS = (DeliveryStatus.CANCELLED, DeliveryStatus.FAILED, DeliveryStatus.HELD, DeliveryStatus.PENDING,
             DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED)
RANK = {status: rank for rank, status in enumerate(STANDINGS, start=1)}


def iso(moment):
    # Always in UTC: the same instant reads the same whether it was just given (in the client's
    # offset) or loaded from the database (UTC, see heyun.db.UtcDateTime).
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def notice_dict(notice, stats=None):
    result = {
        "id": notice.id, "title": notice.title, "body": notice.body, "title_en": notice.title_en,
        "body_en": notice.body_en, "category": notice.category, "severity": notice.severity,
        "urgency": notice.urgency, "certainty": notice.certainty, "status": notice.status,
        "msg_type": notice.msg_type, "references_id": notice.references_id,
        "issuer_account": notice.issuer_account, "issuer_organization_id": notice.issuer_organization_id,
        "audience": {k: v for k, v in (notice.audience or {}).items() if k not in ("copy_of", "reached_only")},
        "requires_ack": notice.requires_ack, "ack_deadline": iso(notice.ack_deadline),
        "onset": iso(notice.onset), "ends": iso(notice.ends), "expires": iso(notice.expires), "send_at": iso(notice.send_at),
        "created_at": iso(notice.created_at), "published_at": iso(notice.published_at),
        "fanned_out_at": iso(notice.fanned_out_at), "escalated_at": iso(notice.escalated_at),
    }
    if stats is not None:
        result["stats"] = stats
    return result


def event_payload(notice):
    return {"notice_id": notice.id, "title": notice.title, "category": notice.category,
            "severity": notice.severity, "urgency": notice.urgency, "msg_type": notice.msg_type,
            "references_id": notice.references_id, "issuer_account": notice.issuer_account,
            "issuer_organization_id": notice.issuer_organization_id, "requires_ack": notice.requires_ack,
            "ack_deadline": notice.ack_deadline}


# -- publishing -----------------------------------------------------------------------------------

def check_audience(caller, audience):
    """A publisher may address residents only by the tags the access policy lets their role see
    (``community.policy``): the count a preview gives per building, or the recipients a notice's
    deliveries list, would tell them who cannot walk or who lives alone as surely as a list."""
    if not caller.has_role(*roles.PUBLISHERS):
        raise Forbidden("Your role may not publish notices.")
    hidden = set(audience.get("tags") or ()) - policy.resident_access(caller.roles).tags
    if hidden:
        raise Forbidden(f"Your role may not address residents by {', '.join(sorted(hidden))}; "
                        "ask the community office.")


def publish(session, caller, data, now=None):
    """Store the notice and its ``notice_published`` event in one transaction; the fan-out follows."""
    check_audience(caller, data["audience"])
    now = now or utcnow()
    audience = data["audience"]
    if not any(audience.get(k) for k in ("building_ids", "floor_min", "floor_max", "tags", "resident_ids",
                                          "organization_ids", "grid_ids")):
        raise InvalidInput("A notice needs an audience.", {"audience": ["Name buildings, floors, tags, "
                                                                         "residents or organisations."]})
    known = set(session.execute(select(OrganizationRecipient.organization_id).where(
        OrganizationRecipient.organization_id.in_(audience.get("organization_ids") or []))).scalars())
    unknown = [o for o in audience.get("organization_ids") or [] if o not in known]
    if unknown:
        raise InvalidInput("Unknown organisation.", {"audience.organization_ids": [f"No organisation {o}." for o in unknown]})
    refuse_past(data, now, ("expires", "ends", "ack_deadline"))
    return create(session, caller, data, audience, now)


def refuse_past(data, now, names):
    """A notice given a time that has passed would be written and never sent (expires, ends) or
    escalate at once (ack_deadline): a 422 naming the field instead."""
    for name in names:
        if data.get(name) and data[name] <= now:
            raise InvalidInput(f"{name} has already passed.", {name: ["Must be in the future."]})


def create(session, caller, data, audience, now):
    """Store a notice (scheduled, or publishing with its event); callers have checked the input."""
    scheduled = data.get("send_at") and data["send_at"] > now
    notice = Notice(
        title=data["title"], body=data["body"], title_en=data.get("title_en"), body_en=data.get("body_en"),
        category=data["category"], severity=data["severity"], urgency=data["urgency"],
        certainty=data["certainty"], issuer_account=caller.account, issuer_organization_id=caller.organization_id,
        # A notice of an event that has ended helps nobody: unless told otherwise it expires then,
        # and deliveries still waiting (quiet hours, retries) are not sent.
        onset=data.get("onset"), ends=data.get("ends"), expires=data.get("expires") or data.get("ends"),
        send_at=data.get("send_at"),
        audience=audience, requires_ack=data.get("requires_ack", False), ack_deadline=data.get("ack_deadline"),
        msg_type=data.get("msg_type", MsgType.ALERT), references_id=data.get("references_id"),
        status=NoticeStatus.SCHEDULED if scheduled else NoticeStatus.PUBLISHING, published_at=None if scheduled else now,
    )
    session.add(notice)
    session.flush()
    if not scheduled:
        record(session, NOTICE_PUBLISHED, event_payload(notice))
    return notice


def release_scheduled(session, now=None):
    """Notices whose send time has come start their fan-out; returns how many."""
    now = now or utcnow()
    due = session.execute(select(Notice).where(Notice.status == NoticeStatus.SCHEDULED, Notice.send_at <= now)).scalars().all()
    for notice in due:
        notice.status, notice.published_at = NoticeStatus.PUBLISHING, now
        record(session, NOTICE_PUBLISHED, event_payload(notice))
    return len(due)


# -- who may see what ---------------------------------------------------------------------------

def recipient_keys(caller):
    """The (recipient_type, recipient_id) pairs that address ``caller``."""
    keys = [(RecipientType.ACCOUNT, caller.account)] + [(RecipientType.ROLE, r) for r in caller.roles]
    if caller.resident_id:
        keys.append((RecipientType.RESIDENT, caller.resident_id))
    if caller.organization_id:
        keys.append((RecipientType.ORGANIZATION, caller.organization_id))
    return keys


def addressed_to(caller):
    """A condition on Delivery: addressed to the caller, or a door-to-door task they carry."""
    conditions = [((Delivery.recipient_type == kind) & (Delivery.recipient_id == rid)) for kind, rid in recipient_keys(caller)]
    conditions.append(Delivery.assignee == caller.account)
    return or_(*conditions)


def visible_notices(caller):
    query = select(Notice)
    if policy.community_wide(caller):
        return query
    mine = select(Delivery.notice_id).where(addressed_to(caller))
    own = Notice.issuer_account == caller.account
    if caller.organization_id:
        own = own | (Notice.issuer_organization_id == caller.organization_id)
    return query.where(own | Notice.id.in_(mine))


def load_visible(session, caller, notice_id):
    notice = session.execute(visible_notices(caller).where(Notice.id == notice_id)).scalar_one_or_none()
    if notice is None:
        raise NotFound(f"No notice with id {notice_id}.")
    return notice


def may_manage(caller, notice):
    return policy.community_wide(caller) or notice.issuer_account == caller.account or (
        caller.organization_id and notice.issuer_organization_id == caller.organization_id)


def stats(session, notice_id):
    """Recipients by their best delivery status (``STANDINGS``); the parts add up to ``recipients``."""
    rank = func.max(case(*[(Delivery.status == s, r) for s, r in RANK.items()], else_=0)).label("best")
    best = (select(Delivery.recipient_type, Delivery.recipient_id, rank)
            .where(Delivery.notice_id == notice_id).group_by(Delivery.recipient_type, Delivery.recipient_id)
            .subquery())
    counts = dict(session.execute(select(best.c.best, func.count()).group_by(best.c.best)).all())
    return {"recipients": sum(counts.values()), **{status: counts.get(RANK[status], 0) for status in STANDINGS}}


def get_notice(session, caller, notice_id):
    notice = load_visible(session, caller, notice_id)
    return notice_dict(notice, stats(session, notice.id))


def list_notices(session, caller, filters, paging):
    query = visible_notices(caller)
    for key in ("status", "category", "msg_type"):
        if filters.get(key):
            query = query.where(getattr(Notice, key) == filters[key])
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = session.execute(query.order_by(Notice.created_at.desc(), Notice.id)
                           .limit(paging["limit"]).offset(paging["offset"])).scalars()
    return {"items": [notice_dict(n) for n in rows], "total": total}


def delivery_dict(d, resident=None):
    result = {"id": d.id, "notice_id": d.notice_id, "recipient_type": d.recipient_type,
              "recipient_id": d.recipient_id, "channel": d.channel, "status": d.status,
              "assignee": d.assignee, "building_id": d.building_id, "attempts": d.attempts,
              "last_error": d.last_error, "fallback_of": d.fallback_of, "sent_at": iso(d.sent_at),
              "delivered_at": iso(d.delivered_at), "acknowledged_at": iso(d.acknowledged_at),
              "held_until": iso(d.next_attempt_at) if d.status == DeliveryStatus.HELD else None}
    if resident is not None:
        result["recipient"] = {"name": resident.name, "building_number": resident.building_number,
                               "unit": resident.unit, "floor": resident.floor, "room": resident.room}
    return result


def list_deliveries(session, caller, notice_id, filters, paging):
    notice = load_visible(session, caller, notice_id)
    query = select(Delivery).where(Delivery.notice_id == notice.id)
    if not may_manage(caller, notice):
        query = query.where(addressed_to(caller))  # a recipient sees only their own deliveries
    for key in ("status", "channel", "recipient_type", "building_id"):
        if filters.get(key):
            query = query.where(getattr(Delivery, key) == filters[key])
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = session.execute(query.order_by(Delivery.recipient_type, Delivery.recipient_id, Delivery.channel)
                           .limit(paging["limit"]).offset(paging["offset"])).scalars()
    return {"items": [delivery_dict(d) for d in rows], "total": total}


# -- the recipient's side -----------------------------------------------------------------------

def inbox(session, caller, paging):
    """Notices addressed to the caller (resident, organisation, account or role), newest first."""
    mine = select(Delivery.notice_id).where(or_(*[
        (Delivery.recipient_type == kind) & (Delivery.recipient_id == rid) for kind, rid in recipient_keys(caller)]))
    query = select(Notice).where(Notice.id.in_(mine))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    notices = session.execute(query.order_by(Notice.created_at.desc()).limit(paging["limit"])
                              .offset(paging["offset"])).scalars().all()
    acked = set(session.execute(select(Delivery.notice_id).where(
        Delivery.notice_id.in_([n.id for n in notices]), Delivery.status == DeliveryStatus.ACKNOWLEDGED,
        or_(*[(Delivery.recipient_type == k) & (Delivery.recipient_id == r) for k, r in recipient_keys(caller)])
    )).scalars())
    # Shown as the recipient would read it: placeholders filled, in their language.
    resident = session.get(ResidentRecipient, caller.resident_id) if caller.resident_id else None
    organization = session.get(OrganizationRecipient, caller.organization_id) if caller.organization_id else None
    items = []
    for n in notices:
        title, body, language = personalise(n, resident, organization, caller.account)
        items.append(dict(notice_dict(n), title=title, body=body, language=language, acknowledged=n.id in acked))
    return {"items": items, "total": total}


def door_to_door_tasks(session, caller, filters, paging):
    """A grid worker's list: notices to hand over in person, with whom and where."""
    if not caller.has_role(*roles.DOOR_TO_DOOR):
        raise Forbidden("Door-to-door tasks are for grid workers.")
    query = select(Delivery, ResidentRecipient, Notice).join(
        ResidentRecipient, ResidentRecipient.resident_id == Delivery.recipient_id).join(
        Notice, Notice.id == Delivery.notice_id).where(Delivery.channel == Channel.DOOR_TO_DOOR)
    if not policy.community_wide(caller):
        query = query.where(Delivery.assignee == caller.account)
    if filters.get("building_id"):
        query = query.where(Delivery.building_id == filters["building_id"])
    status = filters.get("status")
    query = query.where(Delivery.status == status) if status else query.where(
        Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.HELD, DeliveryStatus.SENT)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = session.execute(query.order_by(ResidentRecipient.building_number, ResidentRecipient.unit,
                                          ResidentRecipient.floor, ResidentRecipient.room)
                           .limit(paging["limit"]).offset(paging["offset"])).all()
    return {"items": [dict(delivery_dict(d, r), notice_title=n.title, severity=n.severity) for d, r, n in rows],
            "total": total}


def acknowledge(session, caller, notice_id, data, now=None):
    """The recipient acknowledges; a grid worker naming a resident records a door-to-door hand-over."""
    now = now or utcnow()
    notice = load_visible(session, caller, notice_id)
    if notice.status == NoticeStatus.CANCELLED:
        raise IllegalTransition("The notice was cancelled.", {"notice": ["Cancelled."]})
    if data.get("resident_id"):
        condition = ((Delivery.recipient_type == RecipientType.RESIDENT) & (Delivery.recipient_id == data["resident_id"])
                     & (Delivery.channel == Channel.DOOR_TO_DOOR))
        if not policy.community_wide(caller):
            condition = condition & (Delivery.assignee == caller.account)
        recipient = (RecipientType.RESIDENT, data["resident_id"])
    else:
        condition = or_(*[(Delivery.recipient_type == k) & (Delivery.recipient_id == r) for k, r in recipient_keys(caller)])
        recipient = None
    # Locked, in id order (as cancel and the dispatcher take them): of two acknowledgements at
    # once, the second waits here and then finds the first's, instead of both writing their own.
    deliveries = session.execute(select(Delivery).where(Delivery.notice_id == notice.id, condition)
                                 .order_by(Delivery.id).with_for_update().execution_options(
                                     populate_existing=True)).scalars().all()
    if not deliveries:
        raise NotFound("Nothing of this notice was addressed to you (or assigned to you for that resident).")
    fresh = [d for d in deliveries if d.status not in (DeliveryStatus.ACKNOWLEDGED, DeliveryStatus.CANCELLED)]
    if not fresh:
        done = sorted((d for d in deliveries if d.status == DeliveryStatus.ACKNOWLEDGED), key=lambda d: d.acknowledged_at)
        if not done:
            raise IllegalTransition("Your deliveries of this notice were cancelled (it expired before reaching you).",
                                    {"notice": ["Cancelled."]})
        # A repeat (a retried request, a second tap): the acknowledgement that stands, and no event.
        return acknowledgement(notice, done[0], recipient, done[0].acknowledged_at, done[0].acknowledged_by,
                               created=False)
    for d in fresh:
        d.status, d.acknowledged_at, d.acknowledged_by = DeliveryStatus.ACKNOWLEDGED, now, caller.account
        d.delivered_at = d.delivered_at or now
        d.sent_at = d.sent_at or now
    result = acknowledgement(notice, fresh[0], recipient, now, caller.account, created=True)
    record(session, NOTICE_ACKNOWLEDGED, {k: result[k] for k in (
        "notice_id", "recipient_type", "recipient_id", "acknowledged_by")})
    return result


def acknowledgement(notice, delivery, recipient, at, by, created):
    """What an acknowledgement answers; ``created`` is false for a repeat (the gateway's 200)."""
    kind, rid = recipient or (delivery.recipient_type, delivery.recipient_id)
    return {"notice_id": notice.id, "recipient_type": kind, "recipient_id": rid,
            "acknowledged_at": iso(at), "acknowledged_by": by, "created": created}


# -- corrections and cancellations (CAP Update / Cancel) ----------------------------------------

def update_notice(session, caller, notice_id, data, now=None):
    original = load_visible(session, caller, notice_id)
    if not may_manage(caller, original):
        raise Forbidden("Only the issuer (or staff) may correct a notice.")
    if original.status == NoticeStatus.CANCELLED:
        raise IllegalTransition("A cancelled notice cannot be corrected.", {"notice": ["Cancelled."]})
    now = now or utcnow()
    ends = data.get("ends") or original.ends
    if data.get("ends") and original.onset and data["ends"] <= original.onset:
        raise InvalidInput("ends must be after the event's onset.", {"ends": ["Must be after onset."]})
    expires = data.get("expires") or data.get("ends") or original.expires
    # The expiry checked is the correction's own, given or inherited from an expired original.
    refuse_past({"ends": data.get("ends"), "expires": expires}, now, ("ends", "expires"))
    return create(session, caller, {
        "title": data["title"], "body": data["body"], "title_en": data.get("title_en"), "body_en": data.get("body_en"),
        "category": original.category, "severity": data.get("severity") or original.severity,
        "urgency": original.urgency, "certainty": original.certainty, "onset": original.onset, "ends": ends,
        "expires": expires, "msg_type": MsgType.UPDATE, "references_id": original.id,
    }, {"copy_of": original.id}, now)


def cancel_notice(session, caller, notice_id, data, now=None):
    now = now or utcnow()
    original = load_visible(session, caller, notice_id)
    if not may_manage(caller, original):
        raise Forbidden("Only the issuer (or staff) may cancel a notice.")
    # Wait for a fan-out batch in flight (it holds this lock), so the deliveries it writes are
    # cancelled below too; the fan-out stops at its next batch when it sees the status.
    original = fanout.lock_notice(session, original.id)
    if original.status == NoticeStatus.CANCELLED:
        raise IllegalTransition("The notice is already cancelled.", {"notice": ["Cancelled."]})
    waiting = (Delivery.notice_id == original.id, Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.HELD)))
    # Lock them in id order first: the dispatcher writes its outcomes in id order (the ORM flushes
    # by primary key), and two transactions taking the same rows in different orders deadlock.
    session.execute(select(Delivery.id).where(*waiting).order_by(Delivery.id).with_for_update()).all()
    session.execute(update(Delivery).where(*waiting).values(status=DeliveryStatus.CANCELLED, lease_until=None))
    original.status = NoticeStatus.CANCELLED
    record(session, NOTICE_CANCELLED, event_payload(original))
    return create(session, caller, {
        "title": f"【取消】{original.title}", "body": data["reason"],
        "title_en": f"[Cancelled] {original.title_en}" if original.title_en else None,
        "body_en": data["reason"] if original.title_en else None, "category": original.category,
        "severity": original.severity, "urgency": original.urgency, "certainty": original.certainty,
        "msg_type": MsgType.CANCEL, "references_id": original.id,
    }, {"copy_of": original.id, "reached_only": True}, now)


# -- escalation ---------------------------------------------------------------------------------

def escalate_overdue(session, now=None):
    """Notices past their acknowledgement deadline with organisations silent: tell staff, re-send
    each silent organisation on its next channel, and announce it. Returns the notices escalated."""
    now = now or utcnow()
    overdue = session.execute(select(Notice).where(
        Notice.requires_ack.is_(True), Notice.ack_deadline <= now, Notice.escalated_at.is_(None),
        Notice.status == NoticeStatus.PUBLISHED)).scalars().all()
    escalated = []
    for notice in overdue:
        notice.escalated_at = now
        deliveries = session.execute(select(Delivery).where(
            Delivery.notice_id == notice.id, Delivery.recipient_type == RecipientType.ORGANIZATION)).scalars().all()
        by_org = {}
        for d in deliveries:
            by_org.setdefault(d.recipient_id, []).append(d)
        silent = sorted(org for org, ds in by_org.items() if not any(d.status == DeliveryStatus.ACKNOWLEDGED for d in ds))
        if not silent:
            continue
        resent, rows = {}, []
        for org_id in silent:
            org = session.get(OrganizationRecipient, org_id)
            used = {d.channel for d in by_org[org_id]}
            following = [c for c in fanout.organization_channels(org) if c not in used] if org else []
            if following:
                resent[org_id] = following[0]
                rows.append(fanout.delivery_row(notice, now, RecipientType.ORGANIZATION, org_id, following[0],
                                                fallback_of=by_org[org_id][-1].id))
        fanout.insert_deliveries(session, rows)
        names = "、".join(session.get(OrganizationRecipient, o).name for o in silent if session.get(OrganizationRecipient, o))
        create(session, NOTIFY, {
            "title": f"【未确认】{notice.title}",
            "body": f"{names} 未在 {notice.ack_deadline.isoformat()} 前确认通知“{notice.title}”，已改用其下一个渠道重发。请跟进。",
            "category": notice.category, "severity": notice.severity, "urgency": Urgency.IMMEDIATE,
            "certainty": notice.certainty, "references_id": notice.id,
        }, {"roles": list(ESCALATION_ROLES)}, now)
        record(session, NOTICE_ESCALATED, dict(event_payload(notice), organization_ids=silent, resent_channels=resent))
        escalated.append(notice.id)
    return escalated



def cap_fields(session, notice):
    """What the CAP export needs: the notice plus the area in words and what it refers to."""
    audience = notice.audience or {}
    numbers = sorted(set(session.execute(select(ResidentRecipient.building_number).where(
        ResidentRecipient.building_id.in_(audience.get("building_ids") or []))).scalars()))
    area = "王河社区"
    if numbers:
        area += " " + "、".join(f"{n}号楼" for n in numbers if n is not None)
    if audience.get("floor_min"):
        area += f" {audience['floor_min']}层及以上" if not audience.get("floor_max") else \
            f" {audience['floor_min']}–{audience['floor_max']}层"
    references = []
    if notice.references_id:
        earlier = session.get(Notice, notice.references_id)
        if earlier is not None:
            references.append({"id": earlier.id, "sent": iso(earlier.published_at or earlier.created_at)})
    return dict(notice_dict(notice), references=references, sent_at=iso(notice.published_at or notice.created_at),
                issuer_name=notice.issuer_account, area_description=area)
