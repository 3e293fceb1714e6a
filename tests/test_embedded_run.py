"""`make run`'s own path, as a newcomer takes it: the launcher with the embedded SQLite default,
demo data, every service a process, then a resident query and a notice through the gateway, and
Ctrl-C stopping everything cleanly."""
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import requests

from community.services import ALL, names
from heyun.config import ROOT
from heyun.testing import wait_for
from heyun.testing import free_port
from heyun.testing.broker import Vhost
from heyun.testing.clients import HttpClient
from tests.support import DEMO_PASSWORD


@pytest.mark.e2e
def test_make_run_on_sqlite_brings_wanghe_up_and_stops_on_ctrl_c(tmp_path):
    vhost = Vhost(os.environ["AMQP_URI"])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(AMQP_URI=vhost.uri, NOTIFY_ESCALATION_CHECK_SECONDS="1")
    launcher = subprocess.Popen([sys.executable, "-m", "deploy.run", "--port", str(port), "--data-dir", str(tmp_path)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready():
            try:
                return requests.get(f"{base}/readyz", timeout=5).status_code == 200
            except requests.ConnectionError:
                assert launcher.poll() is None, launcher.stdout.read()
                return False

        wait_for(ready, timeout=180, interval=1, message="the platform to come up on SQLite")
        # A SQLite file of its own for every service there is (the launcher names it after the
        # service), so a new service is checked here without editing this test.
        assert sorted(p.name for p in tmp_path.glob("*.db")) == sorted(f"{name}.db" for name in names(ALL))

        client = HttpClient(base, DEMO_PASSWORD, timeout=10)
        staff, waterplant = client.signed_in("staff"), client.signed_in("waterplant")
        building = staff.get("/api/v1/buildings").json()["items"][4]
        upstairs = staff.get("/api/v1/residents", params={"building_id": building["id"], "floor_min": 4,
                                                          "limit": 500}).json()
        assert upstairs["total"] > 0 and all(r["floor"] >= 4 for r in upstairs["items"])

        audience = {"building_ids": [building["id"]], "floor_min": 4}
        wait_for(lambda: staff.post("/api/v1/notices/preview", json={"audience": audience}).json()["residents"]
                 == upstairs["total"],
                 timeout=60, interval=1, message="notify to know the building's residents")
        created = waterplant.post("/api/v1/notices", json={
            "title": "低水压提示", "body": "4层以上今日水压偏低。", "category": "water_outage", "severity": "Severe",
            "urgency": "Immediate", "audience": audience,
            "expires": (datetime.now(timezone.utc) + timedelta(hours=6)).isoformat()})
        assert created.status_code == 201, created.text
        notice = wait_for(lambda: (lambda n: n if n["status"] == "published" else None)(
            staff.get(f"/api/v1/notices/{created.json()['id']}").json()),
            timeout=60, interval=0.5, message="the fan-out")
        assert notice["stats"]["recipients"] == upstairs["total"]
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            output, _ = launcher.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.kill()
            output, _ = launcher.communicate()
        vhost.delete()
    assert launcher.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
