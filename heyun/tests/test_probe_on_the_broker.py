"""``python -m heyun.probe`` as Kubernetes runs it (a process of its own) against a real broker:
0 when the service answers ``ping``, 1 when no such service runs."""
import os
import subprocess
import sys

from nameko.rpc import rpc

from heyun.config import ROOT


class Pinged:
    name = "probetarget"

    @rpc
    def ping(self):
        return {"service": self.name, "ok": True}


def probe(service, amqp_uri):
    env = {**os.environ, "AMQP_URI": amqp_uri,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services")])}
    return subprocess.run([sys.executable, "-m", "heyun.probe", service, "--timeout", "3"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_a_running_service_passes_and_a_missing_one_fails(container_factory, rabbit_config):
    container = container_factory(Pinged, rabbit_config)
    container.start()
    answered = probe("probetarget", rabbit_config["AMQP_URI"])
    assert answered.returncode == 0, answered.stderr
    missing = probe("nosuchservice", rabbit_config["AMQP_URI"])
    assert missing.returncode == 1
    assert "nosuchservice: not answering ping" in missing.stderr
