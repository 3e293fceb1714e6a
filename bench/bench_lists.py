"""Each list at a street office's size and a city's: 1,000 and 1,000,000 residents, through the
gateway, with the ratio of the two (the goal is 2× at most: a list's cost should not grow with
the registry).

    .venv/bin/python -m bench.bench_lists [--sizes 1000 1000000] [--requests 30]

For each size: a registry database filled straight in SQL (``bench.fill``: buildings, dwellings,
households and grids in a city's proportions), the registry and the gateway started as real
processes, then each list asked ``--requests`` times in turn by one client (after a warm-up
round) and its median latency taken. The baseline is a bare Nameko RPC round trip to a service
that does nothing, measured in the same phase: the part of every figure that is the machine.
"""
import argparse
import os
import time

import requests
from nameko.standalone.rpc import ClusterRpcProxy

from bench.common import AMQP_URI, percentile, registry_behind_gateway, scratch_databases
from bench.fill import fill
from heyun.config import service_config
from heyun.migrations import upgrade


PASSWORD = os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")


def lists(building_id):
    """(label, account, path) of each list measured; ``{cursor}`` is page 1's next_cursor."""
    return [
        ("staff GET /residents?limit=50", "staff", "/residents?limit=50"),
        ("staff tag=living_alone", "staff", "/residents?limit=50&tag=living_alone"),
        ("staff min_age=80", "staff", "/residents?limit=50&min_age=80"),
        ("staff building 1, floor_min=4", "staff", f"/residents?limit=50&building_id={building_id}&floor_min=4"),
        ("staff GET /households", "staff", "/households?limit=50"),
        ("grid worker's own residents", "gridworker1", "/residents?limit=50"),
        ("staff residents, cursor page 2", "staff", "/residents?limit=50&cursor={cursor}"),
    ]


def measure(size, requests_per_list):
    """``({label: median seconds}, {label: (total, total_estimated)}, baseline seconds)`` at ``size``."""
    with scratch_databases() as factory:
        urls = {name: factory.create(f"bench_lists_{name}") for name in ("registry", "gateway")}
        for name, url in urls.items():
            upgrade(name, url)
        started = time.perf_counter()
        shape = fill(urls["registry"], size, service_config("registry")["PII_KEY"])
        print(f"{size:,} residents filled in {time.perf_counter() - started:.0f} s: {shape}", flush=True)
        from gateway import demo as gateway_demo

        gateway_demo.load(urls["gateway"])
        with registry_behind_gateway(urls) as gateway:
            base = gateway + "/api/v1"
            sessions = {}
            for account in ("staff", "gridworker1"):
                token = requests.post(f"{base}/auth/token", json={"username": account, "password": PASSWORD})
                token.raise_for_status()
                sessions[account] = requests.Session()
                sessions[account].headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            staff = sessions["staff"]
            building = staff.get(f"{base}/buildings?limit=1").json()["items"][0]["id"]
            cursor = staff.get(f"{base}/residents?limit=50").json()["next_cursor"]
            measured = [(label, sessions[account], base + path.format(cursor=cursor))
                        for label, account, path in lists(building)]
            samples, totals = {label: [] for label, _, _ in measured}, {}
            with ClusterRpcProxy({"AMQP_URI": AMQP_URI}) as rpc:
                baseline = []
                for round_number in range(requests_per_list + 1):
                    # Round robin, so a burst of load from elsewhere on the machine falls on every
                    # list alike; round 0 warms the connection and worker pools and is not counted.
                    t0 = time.perf_counter()
                    rpc.bench_echo.echo("x")
                    if round_number:
                        baseline.append(time.perf_counter() - t0)
                    for label, session, url in measured:
                        t0 = time.perf_counter()
                        response = session.get(url)
                        elapsed = time.perf_counter() - t0
                        assert response.status_code == 200, (label, response.text)
                        body = response.json()
                        assert body["items"], (label, "an empty page measures nothing")
                        totals[label] = (body["total"], body.get("total_estimated", False))
                        if round_number:
                            samples[label].append(elapsed)
            return ({label: percentile(s, 50) for label, s in samples.items()}, totals,
                    percentile(baseline, 50))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=[1_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    small, large = args.sizes
    results = {size: measure(size, args.requests) for size in (small, large)}
    (small_ms, _, small_base), (large_ms, large_totals, large_base) = results[small], results[large]
    print(f"\nmedian of {args.requests} requests each, one client, through the gateway")
    print(f"{'list':<34} {f'{small:,} ms':>10} {f'{large:,} ms':>12} {'ratio':>6}  total at {large:,}")
    print(f"{'baseline: bare Nameko RPC (echo)':<34} {small_base * 1000:>10.1f} {large_base * 1000:>12.1f}"
          f" {large_base / small_base:>6.2f}")
    worst = 0
    for label in small_ms:
        ratio = large_ms[label] / small_ms[label]
        worst = max(worst, ratio)
        total, estimated = large_totals[label]
        print(f"{label:<34} {small_ms[label] * 1000:>10.1f} {large_ms[label] * 1000:>12.1f} {ratio:>6.2f}"
              f"  {total:,}{' (estimated)' if estimated else ''}")
    print(f"\nworst ratio {worst:.2f} (goal: 2.00 or less)")


if __name__ == "__main__":
    main()
