"""Bodies sent with ``Transfer-Encoding: chunked`` (no Content-Length): read like any other, and
still held to the route's size limit."""
import http.client
import json
from urllib.parse import urlsplit

from gateway.tests.support import PASSWORD, import_rows, spreadsheet
from gateway.edge.http import JSON_MAX_BYTES


def send_chunked(client, path, body, content_type, token=None, chunk_size=100):
    """POST ``body`` in chunks over a real connection; http.client sends no Content-Length."""
    address = urlsplit(client.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    chunks = (body[i:i + chunk_size] for i in range(0, len(body), chunk_size))
    try:
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_a_chunked_json_body_is_read(gateway):
    body = json.dumps({"username": "staff", "password": PASSWORD}).encode()
    status, answer = send_chunked(gateway, "/api/v1/auth/token", body, "application/json", chunk_size=7)
    assert status == 200, answer
    assert answer["token_type"] == "bearer"


def test_a_chunked_body_over_the_limit_is_413(gateway):
    body = json.dumps({"username": "staff", "password": "x" * JSON_MAX_BYTES}).encode()
    status, answer = send_chunked(gateway, "/api/v1/auth/token", body, "application/json", chunk_size=64 * 1024)
    assert status == 413, answer
    assert answer["status"] == 413


def test_a_chunked_csv_import_imports_its_rows(platform):
    data = spreadsheet("csv", import_rows(3, 9))
    status, answer = send_chunked(platform, "/api/v1/residents/import", data, "text/csv",
                                  token=platform.token("staff"))
    assert status == 200, answer
    assert answer["created"] == 3, answer
