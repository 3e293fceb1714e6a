"""``python -m heyun.probe <service>``: the Kubernetes probe of a Nameko service (it has no HTTP
port). It calls ``<service>.ping`` over AMQP (``AMQP_URI``, as the service reads it) and exits 0
when the answer comes within ``--timeout`` seconds, 1 otherwise (no broker, no queue, no answer,
or ``ping`` failed: the service's database is unreachable).

``ping`` is answered by any replica consuming the service's queue, so the probe says the service
answers through the broker from this pod's network, with this pod's credentials; the deployment
manifests give the liveness probe a long failure threshold, so a broker outage makes replicas
unready (no restarts storm) well before it restarts any.
"""
import argparse
import os
import sys

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def ping(service, amqp_uri, timeout):
    """``None`` when ``service`` answered ``ping``, otherwise why not (one line)."""
    import eventlet
    from nameko.standalone.rpc import ClusterRpcProxy

    try:
        with eventlet.Timeout(timeout * 2 + 1):  # connecting counts too, not only the reply
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
                answer = getattr(cluster, service).ping()
    except (Exception, eventlet.Timeout) as exc:
        return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if not isinstance(answer, dict) or not answer.get("ok"):
        return f"unexpected answer {answer!r}"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m heyun.probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="the service to ping, e.g. registry")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer (default 3)")
    args = parser.parse_args(argv)
    problem = ping(args.service, os.environ.get("AMQP_URI", DEFAULT_AMQP_URI), args.timeout)
    if problem:
        print(f"{args.service}: not answering ping: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
