"""No personal data in the gateway's logs: the real gateway process, configured by its config.yml,
logs a staff search for an ID number and a phone number without either."""
import logging
import os
import subprocess
import sys
from urllib.parse import quote_plus

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.tests.support import PASSWORD
from heyun.testing import free_port
from heyun.config import ROOT
from heyun.db import make_engine
from heyun.redaction import PersonalDataFilter, redact
from heyun.testing import wait_for

ID_NUMBER = "370102195001010019"
PHONE = "13912345678"


@pytest.fixture
def gateway_process(gateway_db, service_config, tmp_path):
    """``nameko run`` of the gateway as deployed (its config.yml, its logging); yields the base URL
    and a function returning what it has logged so far."""
    port = free_port()
    log_path = tmp_path / "gateway.log"
    env = dict(os.environ, GATEWAY_PORT=str(port),
               GATEWAY_DATABASE_URL=gateway_db, AMQP_URI=service_config()["AMQP_URI"], RPC_TIMEOUT_SECONDS="1",
               READY_SERVICES="registry", LOG_LEVEL="INFO")
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", "--config", str(ROOT / "gateway" / "config.yml"),
             "gateway.service"], cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base) or process.poll() is not None, timeout=30, message="the gateway to listen")
        assert process.poll() is None, log_path.read_text()
        yield base, log_path.read_text
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(base):
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_access_log_redacts_personal_query_values(gateway_process):
    base, logged = gateway_process
    token = requests.post(base + "/api/v1/auth/token", json={"username": "staff", "password": PASSWORD},
                          timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for query in (f"q={ID_NUMBER}&limit=5", f"q=%E7%8E%8B%E5%BB%BA&phone={PHONE}", f"building_id={ID_NUMBER}"):
        requests.get(f"{base}/api/v1/residents?{query}", headers=headers, timeout=10)  # 503: no registry
    wait_for(lambda: logged().count("GET /api/v1/residents?") == 3, message="the access log lines")
    log = logged()
    assert "q=[redacted]&limit=5" in log and "phone=[redacted]" in log and "building_id=[redacted]" in log
    assert ID_NUMBER not in log and PHONE not in log and "%E7%8E%8B" not in log


def test_a_failed_statement_names_no_parameters(gateway_db):
    """A database error, logged with the request that caused it, does not list the row's values."""
    engine = make_engine(gateway_db, pool_size=1)
    try:
        with pytest.raises(SQLAlchemyError) as failure, engine.connect() as connection:
            connection.execute(text("SELECT length(:value) / 0"), {"value": ID_NUMBER + " 王建国"})
    finally:
        engine.dispose()
    assert ID_NUMBER not in str(failure.value) and "王建国" not in str(failure.value)


def test_the_filter_cleans_messages_arguments_and_tracebacks(caplog):
    log = logging.getLogger("gateway.tests.redaction")
    log.addFilter(PersonalDataFilter())
    try:
        raise KeyError(f"resident {ID_NUMBER} phone {PHONE}")
    except KeyError:
        with caplog.at_level(logging.INFO, logger=log.name):
            log.exception("failed on GET /api/v1/residents?q=%s&name=%s", "王建国", PHONE)
    finally:
        log.filters.clear()
    assert caplog.text.count("[redacted]") >= 4
    assert ID_NUMBER not in caplog.text and PHONE not in caplog.text and "王建国" not in caplog.text


def test_ids_and_timestamps_are_left_alone():
    line = ('GET /api/v1/residents/6178ec91-f51a-4382-9f7f-e924da0352ce?limit=5&offset=10 '
            'at 1764432000000 (2026-11-29 16:21:11.988752)')
    assert redact(line) == line


@pytest.mark.parametrize("written", [
    "+8613912345678", "008613912345678", "+86 139 1234 5678", "139-1234-5678", "139 1234 5678", "13912345678"])
def test_mobile_numbers_are_redacted_however_written(written):
    assert redact(f"sms to {written} failed") == "sms to [redacted] failed"
    assert redact(f"GET /api/v1/residents?contact={quote_plus(written)}&limit=5") == \
        "GET /api/v1/residents?contact=[redacted]&limit=5"
    assert redact(f"GET /api/v1/buildings?building_id={quote_plus(written)}") == \
        "GET /api/v1/buildings?building_id=[redacted]"  # not a personal parameter: by its shape


def test_a_log_call_with_mismatched_arguments_does_not_raise(caplog):
    """A message whose arguments do not fit is logged as written (redacted), not raised into the
    request that logged it, and its arguments are not printed."""
    log = logging.getLogger("gateway.tests.redaction.mismatched")
    log.addFilter(PersonalDataFilter())
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            log.info("resident %s has phone %s", PHONE)  # one argument short
            log.info("called 139-1234-5678 about %d", "not a number")
    finally:
        log.filters.clear()
    assert [record.getMessage() for record in caplog.records] == [
        "resident %s has phone %s", "called [redacted] about %d"]
    assert PHONE not in caplog.text
