"""Stalled clients are not held forever: a request head or body that stops arriving is
closed after ``header_timeout`` / ``body_timeout``, and connections beyond
``max_connections`` are turned away, on every emulator as ``atai-fs serve`` runs it.

Timeouts are configured at half a second; the tests wait up to 30 s for the server to
close the connection and assert only that it did (never how fast)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.emulator_hardening.conftest import KEY, PREFIXES, closed_by_server

QUICK = ("--set", "header_timeout=0.5", "--set", "body_timeout=0.5")

JSON_ROUTES = {
    "atai": "/v0.5/files/uploads/initiate",
    "flow": "/api/v1/flow/test",
    "sandbox": "/v1/sandboxes/sb-1/uploads",
    "aionvision": "/api/v2/uploads/request-presigned-url",
}
"""A JSON control-plane route of each API, where a stalled body would sit."""

APIS = sorted(PREFIXES)

_ATTEMPTS = 100


@pytest.mark.parametrize("api", APIS)
def test_a_stalled_request_line_is_closed(serve, api):
    served = serve(api, *QUICK)
    with served.connect() as sock:
        sock.sendall(b"GET /v0.5/fi")
        assert closed_by_server(sock)


@pytest.mark.parametrize("api", APIS)
def test_stalled_headers_are_closed(serve, api):
    served = serve(api, *QUICK)
    with served.connect() as sock:
        sock.sendall(
            f"GET {PREFIXES[api]}/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nX-".encode()
        )
        assert closed_by_server(sock)


@pytest.mark.parametrize("api", APIS)
def test_a_body_that_stalls_midway_is_closed(serve, api):
    served = serve(api, *QUICK)
    head = (
        f"POST {JSON_ROUTES[api]} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with served.connect() as sock:
        sock.sendall(head.encode() + b'{"filename": "stalled')
        assert closed_by_server(sock)


def test_a_storage_put_that_stalls_midway_is_closed_and_stores_nothing(serve):
    served = serve("atai", *QUICK)
    init = requests.post(
        served.endpoint_url + "/files/uploads/initiate",
        headers=served.auth,
        json={"filename": "p.bin", "file_type": "application/octet-stream", "num_bytes": 1000},
        timeout=30,
    ).json()
    part = init["parts"][0]
    path = part["url"].removeprefix(served.origin)
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nContent-Length: 1000\r\n\r\n"
    with served.connect() as sock:
        sock.sendall(head.encode() + b"x" * 400)
        assert closed_by_server(sock)
    token = {"part_number": part["part_number"], "part_token": '"none"'}
    complete = requests.post(
        f"{served.endpoint_url}/files/uploads/{init['upload_id']}/complete",
        headers=served.auth,
        json={"parts": [token]},
        timeout=30,
    )
    assert complete.status_code == 400  # the part was never stored


def test_an_idle_keep_alive_connection_is_closed(serve):
    served = serve("atai", *QUICK)
    request = (
        f"GET /v0.5/files/info HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        f"Authorization: Bearer {KEY}\r\n\r\n"
    )
    with served.connect() as sock:
        sock.sendall(request.encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)  # nothing more sent: idle past header_timeout


def info_request(port: int) -> bytes:
    return (
        f"GET /v0.5/files/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\n\r\n"
    ).encode()


def test_connections_beyond_max_connections_are_answered_503_and_closed(serve):
    served = serve("atai", "--set", "max_connections=2")
    held = [served.connect(), served.connect()]
    try:
        # Each held connection is served: it answers a request (the server took it).
        for sock in held:
            sock.sendall(info_request(served.port))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with served.connect() as extra:
            answer = b""
            while chunk := extra.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"Retry-After: 1" in answer
    finally:
        for sock in held:
            sock.close()


def test_a_closed_connection_frees_its_place(serve):
    served = serve("atai", "--set", "max_connections=1")
    with served.connect() as first:
        first.sendall(info_request(served.port))
        assert first.recv(65536).startswith(b"HTTP/1.1 200")
    # The server learns of the close asynchronously: a bounded number of attempts.
    for _ in range(_ATTEMPTS):
        with served.connect() as sock:
            try:
                sock.sendall(info_request(served.port))
                answer = sock.recv(65536)
            except ConnectionError:  # refused: the 503 was sent and the socket closed
                answer = b""
        if answer.startswith(b"HTTP/1.1 200"):
            return
        assert answer == b"" or answer.startswith(b"HTTP/1.1 503")
        time.sleep(0.1)
    raise AssertionError("the freed place was never given to a new connection")
