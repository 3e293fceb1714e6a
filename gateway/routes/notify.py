"""notify's routes: notices (publishing, preview, corrections, cancellation, CAP), their
deliveries and acknowledgements, the inbox, door-to-door tasks, and the SMS gateway's receipts.

Who may do what:
- publishing, previewing, correcting and cancelling notices: the roles that speak to the community
  (admin, staff, property management, the water plant, police, mediators); notify lets only the
  issuer or staff correct or cancel one;
- reading and acknowledging: everyone signed in, because notify shows each caller only what
  concerns them (staff everything, an organisation what it issued or was sent, a resident their
  own notices, a grid worker the door-to-door notices they carry); another's notice is a 404;
- door-to-door task lists: grid workers (and admin and staff);
- the SMS gateway's delivery receipts: no token, since the SMS gateway is a machine with no
  account; the receipts' HMAC signature, which notify checks, is what authenticates it.
"""
from werkzeug.wrappers import Response

from gateway import schemas
from heyun.rpc import ServiceRpc
from gateway.edge.http import BASE, api
from gateway.edge.problems import JSON_TYPE, dumps
from gateway.routes import DOOR_TO_DOOR, EVERYONE, PUBLISHERS

CAP_TYPE = "application/cap+xml; charset=utf-8"


class NotifyRoutes:
    notify = ServiceRpc("notify")

    # -- notices (notify) -------------------------------------------------------------------
    @api("POST", BASE + "/notices", roles=PUBLISHERS, body=schemas.NoticeCreate, status=201,
         response=schemas.NoticeRef, tag="notify",
         summary="Publish a notice; its recipients are fixed now and it fans out at once (or at send_at).")
    def publish_notice(self, request, body):
        return self.notify.publish_notice(body)

    @api("POST", BASE + "/notices/preview", roles=PUBLISHERS, body=schemas.PreviewRequest,
         response=schemas.Preview, tag="notify",
         summary="Dry run: whom an audience reaches, per building and per first channel; sends nothing.")
    def preview_notice(self, request, body):
        return self.notify.preview_notice(body["audience"])

    @api("GET", BASE + "/notices", roles=EVERYONE, query=schemas.NoticeQuery, response=schemas.NoticeList,
         tag="notify", summary="Notices the caller may see (staff: all; others: issued by or sent to them).")
    def list_notices(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.list_notices(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/notices/<notice_id>", roles=EVERYONE, response=schemas.Notice, tag="notify",
         summary="A notice with its delivery statistics; 404 if it is not the caller's to see.")
    def get_notice(self, request, notice_id):
        return self.notify.get_notice(notice_id)

    @api("GET", BASE + "/notices/<notice_id>/deliveries", roles=EVERYONE, query=schemas.DeliveryQuery,
         response=schemas.DeliveryList, tag="notify",
         summary="Deliveries of a notice (the issuer and staff: all; a recipient: their own).")
    def list_deliveries(self, request, notice_id, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.list_deliveries(notice_id, filters=filters, limit=limit, offset=offset)

    @api("POST", BASE + "/notices/<notice_id>/acknowledgements", roles=EVERYONE,
         body=schemas.AcknowledgementCreate, optional_body=True, status=201,
         also={200: "A repeat: the acknowledgement already recorded, unchanged."},
         response=schemas.AcknowledgementResult, tag="notify",
         summary="A recipient acknowledges; a grid worker sends {resident_id} to record a door-to-door hand-over. "
                 "A repeat answers 200 with the acknowledgement already recorded (its time), and records nothing.")
    def acknowledge_notice(self, request, notice_id, body):
        result = self.notify.acknowledge(notice_id, body)
        if result.pop("created", True):
            return result
        return Response(dumps(result), status=200, content_type=JSON_TYPE)  # nothing new was created

    @api("POST", BASE + "/notices/<notice_id>/updates", roles=PUBLISHERS, body=schemas.NoticeUpdate, status=201,
         response=schemas.NoticeRef, tag="notify",
         summary="Correct a notice (CAP Update): a new notice to the same recipients, referencing it.")
    def update_notice(self, request, notice_id, body):
        return self.notify.update_notice(notice_id, body)

    @api("POST", BASE + "/notices/<notice_id>/cancellation", roles=PUBLISHERS, body=schemas.NoticeCancel,
         status=201, response=schemas.NoticeRef, tag="notify",
         summary="Cancel a notice (CAP Cancel): pending deliveries stop, those already reached are told.")
    def cancel_notice(self, request, notice_id, body):
        return self.notify.cancel_notice(notice_id, body)

    @api("GET", BASE + "/notices/<notice_id>/cap", roles=EVERYONE, produces="application/cap+xml", tag="notify",
         summary="The notice as a CAP 1.2 alert (XML).")
    def notice_cap(self, request, notice_id):
        return Response(self.notify.export_cap(notice_id).encode("utf-8"), content_type=CAP_TYPE)

    @api("GET", BASE + "/me/notices", roles=EVERYONE, query=schemas.Paging, response=schemas.InboxNoticeList,
         tag="notify", summary="The caller's inbox: notices addressed to them, their organisation or role.")
    def my_notices(self, request, query):
        return self.notify.inbox(limit=query["limit"], offset=query["offset"])

    @api("GET", BASE + "/me/door-to-door-tasks", roles=DOOR_TO_DOOR, query=schemas.TaskQuery,
         response=schemas.DoorToDoorTaskList, tag="notify",
         summary="A grid worker's notices to hand over in person, in walking order (building, unit, floor).")
    def my_door_to_door_tasks(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.door_to_door_tasks(filters=filters, limit=limit, offset=offset)

    @api("POST", BASE + "/notify/sms-receipts", public=True, signed=schemas.SmsReceipts,
         response=schemas.ReceiptCounts, tag="notify",
         summary="The SMS gateway's delivery receipts, signed (X-Heyun-Signature); repeats change nothing.")
    def sms_receipts(self, request, signed_body):
        return self.notify.record_sms_receipts(*signed_body)
