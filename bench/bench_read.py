"""Registry read through the gateway at 32 concurrent clients: latency p50/p99 and requests/s,
against (1) a bare Nameko RPC round trip to a service that does nothing and (2) the same registry
query over RPC without HTTP, all measured in the same run against the same processes.

    .venv/bin/python -m bench.bench_read [--clients 32] [--seconds 10]

Everything runs on this machine: the services as real processes (PostgreSQL databases made for the
run, demo data loaded), the load generator as threads in this process. On a 2-core machine the
generator competes with the services for CPU, so treat the figures as relative.
"""
import argparse
import os
import threading
import time

import requests
from nameko.standalone.rpc import ClusterRpcProxy

from bench.common import AMQP_URI, percentile, registry_behind_gateway, scratch_databases
from heyun.identity import CONTEXT_KEY, Caller
from heyun.migrations import upgrade

STAFF = Caller(account="staff", roles=("staff",))


def hammer(call, clients, seconds, setup=lambda: None, teardown=lambda state: None):
    """Run ``call(state)`` from ``clients`` threads for ``seconds``; returns (latencies, elapsed)."""
    latencies, lock = [], threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker():
        state = setup()
        mine = []
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            call(state)
            mine.append(time.perf_counter() - t0)
        teardown(state)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds + 60  # provisional until every client is ready
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began


def report(label, latencies, elapsed):
    print(f"{label:<44} {len(latencies) / elapsed:>9,.0f} {percentile(latencies, 50) * 1000:>9.2f}"
          f" {percentile(latencies, 99) * 1000:>9.2f}")


def rpc_client(context=None):
    def setup():
        proxy = ClusterRpcProxy({"AMQP_URI": AMQP_URI}, context_data=context or {})
        return proxy, proxy.start()

    return setup, lambda state: state[0].stop()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args(argv)

    with scratch_databases() as factory:
        urls = {name: factory.create(f"bench_{name}") for name in ("registry", "gateway")}
        for name, url in urls.items():
            upgrade(name, url)
        from gateway import demo as gateway_demo
        from registry import demo as registry_demo

        registry_demo.load(urls["registry"])
        gateway_demo.load(urls["gateway"])
        with registry_behind_gateway(urls) as base:
            token = requests.post(f"{base}/api/v1/auth/token", json={"username": "staff",
                                  "password": os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")}).json()
            building = requests.get(f"{base}/api/v1/buildings", headers={
                "Authorization": f"Bearer {token['access_token']}"}).json()["items"][0]["id"]
            query = {"building_id": building, "floor_min": 4}
            path = f"{base}/api/v1/residents?building_id={building}&floor_min=4"

            def http_setup():
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {token['access_token']}"
                return session

            def http_call(session):
                response = session.get(path)
                assert response.status_code == 200, response.text

            echo_setup, echo_teardown = rpc_client()
            reg_setup, reg_teardown = rpc_client({CONTEXT_KEY: STAFF.to_json()})
            # Warm up: every connection pool and worker pool opened before measuring.
            hammer(lambda s: s[1].bench_echo.echo("x"), 4, 1, echo_setup, echo_teardown)
            hammer(http_call, 4, 1, http_setup)

            print(f"{args.clients} concurrent clients, {args.seconds:.0f} s each; "
                  f"residents of building 1 on floors 4+ ({len(requests.get(path, headers=http_setup().headers).json()['items'])} items)")
            print(f"{'':<44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
            report("baseline: bare Nameko RPC round trip (echo)",
                   *hammer(lambda s: s[1].bench_echo.echo("x"), args.clients, args.seconds, echo_setup, echo_teardown))
            report("registry.list_residents over RPC",
                   *hammer(lambda s: s[1].registry.list_residents(query), args.clients, args.seconds,
                           reg_setup, reg_teardown))
            report("GET /api/v1/residents through the gateway",
                   *hammer(http_call, args.clients, args.seconds, http_setup))


if __name__ == "__main__":
    main()
