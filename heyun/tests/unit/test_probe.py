"""``python -m heyun.probe``: exit 0 on an answer to ``ping``, 1 (with the reason) otherwise."""
import socket
import time

from heyun import probe


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_service_answering_ping_passes(monkeypatch):
    monkeypatch.setattr(probe, "ping", lambda service, uri, timeout: None)
    assert probe.main(["registry"]) == 0


def test_no_answer_fails_with_the_reason(monkeypatch, capsys):
    monkeypatch.setattr(probe, "ping", lambda service, uri, timeout: "Timeout: 3 seconds")
    assert probe.main(["registry", "--timeout", "3"]) == 1
    assert "registry: not answering ping: Timeout" in capsys.readouterr().err


def test_no_broker_fails_within_its_timeout():
    started = time.monotonic()
    assert probe.ping("registry", f"amqp://guest:guest@127.0.0.1:{closed_port()}/", timeout=0.5) is not None
    assert time.monotonic() - started < 10


def test_an_answer_that_is_not_ok_fails(monkeypatch):
    class Cluster:
        def __init__(self, config, timeout):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __getattr__(self, name):
            return type("Proxy", (), {"ping": staticmethod(lambda: {"ok": False})})()

    import nameko.standalone.rpc
    monkeypatch.setattr(nameko.standalone.rpc, "ClusterRpcProxy", Cluster)
    assert "unexpected answer" in probe.ping("registry", "amqp://x/", timeout=1)
