"""Operators' tool for parked events: list dead-letter queues, look inside, replay.

    python -m heyun.dlq list                      # every *.dead queue with its message count
    python -m heyun.dlq show QUEUE [--limit N]    # the parked messages, with error and attempts
    python -m heyun.dlq replay QUEUE [--limit N]  # send them back to the handler's queue

Replay moves a message only after the broker confirmed its copy, so a crash mid-replay
duplicates at worst (handlers are idempotent) and never loses one.
"""
import argparse
import json
import os
import sys
from urllib.parse import quote, urlparse

import requests
from kombu import Connection

from heyun.handlers import ATTEMPT_HEADER, QUEUE_HEADER
from heyun.publisher import ConfirmingPublisher

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_API_URI = "http://guest:guest@127.0.0.1:15672"


def _vhost(amqp_uri):
    path = urlparse(amqp_uri).path.lstrip("/")
    return path or "/"


def list_dead_queues(amqp_uri, api_uri=DEFAULT_API_URI):
    """``[(queue, messages)]`` for every dead-letter queue on the broker's vhost."""
    api = urlparse(api_uri)
    base = f"{api.scheme}://{api.hostname}:{api.port or 15672}"
    response = requests.get(
        f"{base}/api/queues/{quote(_vhost(amqp_uri), safe='')}",
        auth=(api.username or "guest", api.password or "guest"),
        timeout=10,
    )
    response.raise_for_status()
    return sorted(
        (q["name"], q.get("messages", 0)) for q in response.json() if q["name"].endswith(".dead")
    )


def peek(amqp_uri, queue, limit=20):
    """The first ``limit`` parked messages, left where they are."""
    found = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        taken = []
        while len(found) < limit:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                break
            taken.append(message.delivery_tag)
            found.append({"headers": dict(message.headers or {}), "body": json.loads(message.body)})
        for tag in taken:  # hand them back in order
            channel.basic_reject(tag, requeue=True)
    return found


def replay(amqp_uri, queue, limit=None):
    """Move up to ``limit`` messages from ``queue`` back to their handler queue; returns the count."""
    publisher = ConfirmingPublisher(amqp_uri)
    moved = 0
    try:
        with Connection(amqp_uri) as conn:
            channel = conn.channel()
            while limit is None or moved < limit:
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                headers = dict(message.headers or {})
                target = headers.get(QUEUE_HEADER) or queue[: -len(".dead")]
                headers[ATTEMPT_HEADER] = 0  # a fresh set of retries after the operator's fix
                publisher.publish_batch(
                    [{"exchange": "", "routing_key": target, "body": json.loads(message.body),
                      "headers": headers}]
                )
                channel.basic_ack(message.delivery_tag)
                moved += 1
    finally:
        publisher.close()
    return moved


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m heyun.dlq", description=__doc__.split("\n")[0])
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", DEFAULT_AMQP_URI))
    parser.add_argument("--api-uri", default=os.environ.get("RABBIT_API_URI", DEFAULT_API_URI))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    for name in ("show", "replay"):
        p = sub.add_parser(name)
        p.add_argument("queue")
        p.add_argument("--limit", type=int, default=20 if name == "show" else None)
    args = parser.parse_args(argv)

    if args.command == "list":
        queues = list_dead_queues(args.amqp_uri, args.api_uri)
        if not queues:
            print("no dead-letter queues")
        for name, count in queues:
            print(f"{count:8d}  {name}")
    elif args.command == "show":
        for message in peek(args.amqp_uri, args.queue, args.limit):
            print(json.dumps(message, ensure_ascii=False, indent=2, default=str))
    else:
        print(f"replayed {replay(args.amqp_uri, args.queue, args.limit)} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
