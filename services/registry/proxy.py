"""Help-and-proxy requests (帮办代办): a resident authorises their grid worker to handle a
service item for them, and the request moves through

    submitted → accepted → in_progress → completed
        └──────────┴────────────┴──────→ rejected      (submitted/accepted also → withdrawn)

with the evidence of completion, the resident's rating, and overdue detection against the
item's time limit in working days.
"""
from datetime import timedelta

from sqlalchemy import select

from community import policy
from community.roles import Role
from heyun.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from heyun.outbox import record
from heyun.paging import page
from registry.contract import (
    PROXY_REQUEST_OVERDUE,
    PROXY_REQUEST_RATED,
    PROXY_REQUEST_SUBMITTED,
    PROXY_REQUEST_TRANSITIONED,
    ProxyAction,
    ProxyStatus,
)
from registry.models import (
    Building,
    Dwelling,
    GridWorker,
    ProxyRequest,
    ProxyRequestStep,
    Resident,
    ServiceItem,
    utcnow,
)
from registry.residents import today

# action → (statuses it may start from, status it leads to)
TRANSITIONS = {
    ProxyAction.ACCEPT: ({ProxyStatus.SUBMITTED}, ProxyStatus.ACCEPTED),
    ProxyAction.START: ({ProxyStatus.ACCEPTED}, ProxyStatus.IN_PROGRESS),
    ProxyAction.COMPLETE: ({ProxyStatus.IN_PROGRESS}, ProxyStatus.COMPLETED),
    ProxyAction.REJECT: ({ProxyStatus.SUBMITTED, ProxyStatus.ACCEPTED, ProxyStatus.IN_PROGRESS}, ProxyStatus.REJECTED),
    ProxyAction.WITHDRAW: ({ProxyStatus.SUBMITTED, ProxyStatus.ACCEPTED}, ProxyStatus.WITHDRAWN),
}
OPEN_STATUSES = (ProxyStatus.SUBMITTED, ProxyStatus.ACCEPTED, ProxyStatus.IN_PROGRESS)


def add_working_days(start, days):
    """``days`` working days after ``start`` (weekends skipped; public holidays not modelled)."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def request_dict(session, request, with_history=True):
    result = {
        "id": request.id, "resident_id": request.resident_id, "service_item_id": request.service_item_id,
        "grid_worker_id": request.grid_worker_id, "grid_id": request.grid_id, "status": request.status,
        "description": request.description,
        "authorization": {"scope": request.authorization_scope,
                          "valid_until": request.authorization_valid_until.isoformat()},
        "evidence": request.evidence, "rating": request.rating, "rating_comment": request.rating_comment,
        "submitted_at": request.submitted_at.isoformat(), "due_on": request.due_on.isoformat(),
        "overdue": request.status in OPEN_STATUSES and today() > request.due_on,
    }
    if with_history:
        steps = session.execute(select(ProxyRequestStep).where(ProxyRequestStep.request_id == request.id)
                                .order_by(ProxyRequestStep.at)).scalars()
        result["history"] = [{"action": s.action, "from_status": s.from_status, "to_status": s.to_status,
                              "note": s.note, "actor": s.actor, "at": s.at.isoformat()} for s in steps]
    return result


def payload(session, request, **extra):
    item = session.get(ServiceItem, request.service_item_id)
    worker = session.get(GridWorker, request.grid_worker_id) if request.grid_worker_id else None
    return dict({"request_id": request.id, "resident_id": request.resident_id,
                 "service_item_id": item.id, "service_item_name": item.name,
                 "grid_worker_id": request.grid_worker_id, "grid_worker_account": worker.account if worker else None,
                 "grid_id": request.grid_id, "status": request.status, "due_on": request.due_on}, **extra)


def visible_to(query, caller):
    if policy.community_wide(caller):
        return query
    if caller.resident_id:
        return query.where(ProxyRequest.resident_id == caller.resident_id)
    if caller.has_role(Role.GRID_WORKER):
        return query.where(ProxyRequest.grid_id.in_(caller.grid_ids or ["-"]))
    return query.where(ProxyRequest.id.is_(None))  # other roles see none


def load(session, caller, request_id):
    request = session.execute(visible_to(select(ProxyRequest), caller)
                              .where(ProxyRequest.id == request_id)).scalar_one_or_none()
    if request is None:
        raise NotFound(f"No help-and-proxy request with id {request_id}.")
    return request


def submit(session, caller, data):
    row = session.execute(
        select(Resident, Building).join(Dwelling, Resident.dwelling_id == Dwelling.id)
        .join(Building, Dwelling.building_id == Building.id).where(Resident.id == data["resident_id"])
    ).first()
    if row is None:
        raise InvalidInput("Unknown resident.", {"resident_id": ["No resident with this id."]})
    resident, building = row
    if caller.resident_id and caller.resident_id != resident.id and not policy.community_wide(caller):
        raise Forbidden("Residents may only ask for help for themselves.")
    if caller.has_role(Role.GRID_WORKER) and not policy.community_wide(caller) and building.grid_id not in caller.grid_ids:
        raise Forbidden("Grid workers may only submit requests for residents of their grid.")
    item = session.get(ServiceItem, data["service_item_id"])
    if item is None:
        raise InvalidInput("Unknown service item.", {"service_item_id": ["No service item with this id."]})
    if data["authorization"]["valid_until"] < today():
        raise InvalidInput("The authorisation has already expired.",
                           {"authorization.valid_until": ["Must not be in the past."]})
    worker = session.execute(select(GridWorker).where(GridWorker.grid_id == building.grid_id)
                             .order_by(GridWorker.name)).scalars().first()
    request = ProxyRequest(
        resident_id=resident.id, service_item_id=item.id, grid_worker_id=worker.id if worker else None,
        grid_id=building.grid_id, status=ProxyStatus.SUBMITTED, description=data.get("description") or "",
        authorization_scope=data["authorization"]["scope"],
        authorization_valid_until=data["authorization"]["valid_until"],
        due_on=add_working_days(today(), item.time_limit_days),
    )
    session.add(request)
    session.flush()
    session.add(ProxyRequestStep(request_id=request.id, action="submit", from_status=None,
                                 to_status=ProxyStatus.SUBMITTED, actor=caller.account))
    record(session, PROXY_REQUEST_SUBMITTED, payload(session, request))
    return request_dict(session, request)


def transition(session, caller, request_id, data):
    request = load(session, caller, request_id)
    action = data["action"]
    allowed_from, to_status = TRANSITIONS[action]
    if request.status not in allowed_from:
        raise IllegalTransition(f"Cannot {action} a request that is {request.status}.",
                                {"action": [f"Not allowed from status {request.status}."]})
    if action == ProxyAction.WITHDRAW:
        if not (policy.community_wide(caller) or caller.resident_id == request.resident_id):
            raise Forbidden("Only the resident (or staff) may withdraw a request.")
    elif caller.resident_id and not policy.community_wide(caller) and not caller.has_role(Role.GRID_WORKER):
        raise Forbidden("Residents may only withdraw their requests.")
    if action == ProxyAction.COMPLETE and not data.get("evidence"):
        raise InvalidInput("Completing needs evidence.", {"evidence": ["Describe or link the proof of completion."]})
    if action == ProxyAction.REJECT and not data.get("note"):
        raise InvalidInput("Rejecting needs a reason.", {"note": ["Say why the request is rejected."]})
    if action in (ProxyAction.ACCEPT, ProxyAction.START, ProxyAction.COMPLETE) and request.authorization_valid_until < today():
        raise IllegalTransition("The resident's authorisation has expired.",
                                {"authorization.valid_until": ["Expired; ask the resident to renew it."]})
    from_status = request.status
    request.status = to_status
    if data.get("evidence"):
        request.evidence = data["evidence"]
    session.add(ProxyRequestStep(request_id=request.id, action=action, from_status=from_status,
                                 to_status=to_status, note=data.get("note"), actor=caller.account))
    session.flush()
    record(session, PROXY_REQUEST_TRANSITIONED, payload(session, request, action=action, from_status=from_status))
    return request_dict(session, request)


def rate(session, caller, request_id, data):
    request = load(session, caller, request_id)
    if not (policy.community_wide(caller) or caller.resident_id == request.resident_id):
        raise Forbidden("Only the resident rates the help they got.")
    if request.status != ProxyStatus.COMPLETED:
        raise IllegalTransition("Only a completed request can be rated.", {"rating": ["Not completed yet."]})
    if request.rating is not None:
        raise IllegalTransition("This request has already been rated.", {"rating": ["Already rated."]})
    request.rating, request.rating_comment = data["rating"], data.get("comment")
    record(session, PROXY_REQUEST_RATED, payload(session, request, rating=request.rating))
    return request_dict(session, request)


def list_requests(session, caller, filters, paging):
    query = visible_to(select(ProxyRequest), caller).order_by(ProxyRequest.submitted_at.desc(), ProxyRequest.id)
    for key in ("status", "resident_id", "grid_id", "grid_worker_id"):
        if filters.get(key):
            query = query.where(getattr(ProxyRequest, key) == filters[key])
    if filters.get("overdue") is True:
        query = query.where(ProxyRequest.status.in_(OPEN_STATUSES), ProxyRequest.due_on < today())
    elif filters.get("overdue") is False:
        query = query.where((ProxyRequest.status.not_in(OPEN_STATUSES)) | (ProxyRequest.due_on >= today()))
    return page(session, query, paging, lambda r: request_dict(session, r, with_history=False))


def flag_overdue(session):
    """Announce each open request past its due date, once; returns how many were flagged."""
    late = session.execute(select(ProxyRequest).where(
        ProxyRequest.status.in_(OPEN_STATUSES), ProxyRequest.due_on < today(),
        ProxyRequest.overdue_flagged_at.is_(None))).scalars().all()
    for request in late:
        request.overdue_flagged_at = utcnow()
        record(session, PROXY_REQUEST_OVERDUE, payload(session, request))
    return len(late)
