"""Email to organisations' contacts over SMTP (``SMTP_HOST:SMTP_PORT``), one connection per batch.

Each delivery is one message, addressed to every contact in its address list, with a UTF-8
subject and body. The relay accepting it is ``sent``. SMTP answers carry their own verdict:
4xx means "try later" (retryable), 5xx means "never" (fall back to the next channel). A dropped
connection fails only the message in flight; the rest of the batch gets a fresh connection.
"""
import logging
import smtplib
import socket
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from notify import contract

from .base import SENT, Channel, InvalidAddress, failed, succeeded

log = logging.getLogger(__name__)

DEFAULT_SENDER = "notices@heyun.local"


def recipients_of(delivery):
    """The delivery's address list (a list, or one comma-separated string), each a bare address."""
    address = delivery.get("address")
    candidates = address.split(",") if isinstance(address, str) else list(address or [])
    recipients = []
    for candidate in candidates:
        _, addr = parseaddr(str(candidate).strip())
        # parseaddr is lenient; the checks that matter are one @ and nothing that could
        # smuggle another header or recipient into the envelope.
        if addr.count("@") != 1 or any(c.isspace() or c in ",;<>" for c in addr):
            raise InvalidAddress("invalid email address")
        recipients.append(addr)
    if not recipients:
        raise InvalidAddress("no email address")
    return recipients


class EmailChannel(Channel):
    name = contract.Channel.EMAIL

    def __init__(self, host, port=25, sender=DEFAULT_SENDER, timeout=5.0):
        self.host = host
        self.port = int(port)
        self.sender = sender or DEFAULT_SENDER
        self.timeout = float(timeout)

    def send(self, deliveries):
        outcomes, smtp, unreachable = [], None, None
        try:
            for delivery in deliveries:
                if unreachable:
                    # The server did not answer a connection attempt in this batch; waiting out
                    # the timeout once per message would only delay the retry of them all.
                    outcomes.append(failed(delivery, unreachable, retryable=True))
                    continue
                try:
                    recipients = recipients_of(delivery)
                except InvalidAddress as error:
                    outcomes.append(failed(delivery, str(error), retryable=False))
                    continue
                if smtp is None:
                    try:
                        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                    except smtplib.SMTPResponseException as error:  # e.g. a 421 greeting
                        outcomes.append(self._smtp_refused(delivery, error.smtp_code, error.smtp_error))
                        continue
                    except OSError as error:  # refused, unreachable, timed out
                        unreachable = _network_detail(error, self.timeout)
                        outcomes.append(self._failed(delivery, unreachable, retryable=True))
                        continue
                try:
                    outcomes.append(self._send_message(smtp, delivery, recipients))
                # SMTP's exceptions are OSErrors too: the answers with a code come first.
                except smtplib.SMTPResponseException as error:
                    outcomes.append(self._smtp_refused(delivery, error.smtp_code, error.smtp_error))
                    # The session survives a refused message; RSET so the next one starts clean.
                    smtp = _reset(smtp)
                except smtplib.SMTPRecipientsRefused as error:
                    code, message = next(iter(error.recipients.values()))
                    outcomes.append(self._smtp_refused(delivery, code, message))
                    smtp = _reset(smtp)
                except OSError as error:
                    # Dropped or timed out mid-message: the connection is in an unknown state,
                    # so the next message opens a fresh one.
                    outcomes.append(self._failed(delivery, _network_detail(error, self.timeout), True))
                    smtp = _quit(smtp)
                except Exception as error:  # one message's bug must not fail the batch
                    log.exception("email: unexpected error for delivery %s", delivery.get("id"))
                    outcomes.append(failed(delivery, f"internal error: {type(error).__name__}", True))
                    smtp = _quit(smtp)
        finally:
            _quit(smtp)
        return outcomes

    def _send_message(self, smtp, delivery, recipients):
        refused = smtp.send_message(self._message(delivery, recipients), self.sender, recipients)
        # Some contacts refused, others accepted: the organisation was reached, so sent,
        # with the refusals noted for whoever maintains its contact list.
        detail = f"refused by {len(refused)} of {len(recipients)} recipients" if refused else ""
        return succeeded(delivery, SENT, detail)

    def _message(self, delivery, recipients):
        message = EmailMessage()
        # Header values may not contain line breaks (header injection); fold the title's whitespace.
        message["Subject"] = " ".join(str(delivery["title"]).split())
        message["From"] = formataddr(("河润社区通知", self.sender))
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(idstring=str(delivery["id"]),
                                           domain=self.sender.rpartition("@")[2] or None)
        message["X-Heyun-Delivery"] = str(delivery["id"])
        if delivery.get("language"):
            message["Content-Language"] = str(delivery["language"])
        message.set_content(str(delivery["body"]), charset="utf-8")
        return message

    def _smtp_refused(self, delivery, code, message):
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        return self._failed(delivery, f"SMTP {code} {text}".strip(), retryable=400 <= code < 500)

    def _failed(self, delivery, detail, retryable):
        log.warning("email for delivery %s failed (%s, %s)", delivery.get("id"), detail,
                    "will retry" if retryable else "not retryable")
        return failed(delivery, detail, retryable)


def _network_detail(error, timeout):
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"timeout after {timeout:g}s"
    return f"connection error: {type(error).__name__}"


def _reset(smtp):
    try:
        smtp.rset()
        return smtp
    except (smtplib.SMTPException, OSError):
        return _quit(smtp)


def _quit(smtp):
    """Close quietly; returns None so callers can write ``smtp = _quit(smtp)``."""
    if smtp is not None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return None
