"""DNS rebinding: a web page that rebinds its own name to 127.0.0.1 reaches the emulator
with its name in ``Host``. Every emulator answers only for its own address, localhost,
127.0.0.1, [::1] and its ``public_url``; presigned URLs name the bound address, never
the request's ``Host``."""

from __future__ import annotations

import json

import pytest
import requests

from tests.emulator_hardening.conftest import PREFIXES, Served

ROUTES = {
    "atai": ("GET", "/files/info"),
    "flow": ("GET", "/flow/status/0194c3a2-0000-7000-8000-000000000000"),
    "sandbox": ("GET", "/v1/sandboxes/sb-1/uploads/up_unknown"),
    "aionvision": ("GET", "/uploads/quota-check?file_count=1"),
}
"""A read-only route of each API (what a rebinding page would try first)."""


def error_of(served: Served, response: requests.Response) -> str:
    """The message of an error answer, read from the API's own error body."""
    if served.api == "flow":  # Go's http.Error: plain text and a newline
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.text
    body = response.json()
    if served.api == "atai":
        (error,) = body["errors"]
        assert error["error_uid"].startswith("err-")
        return str(error["message"])
    if served.api == "sandbox":
        assert body["code"] == "invalid_request" and body["request_id"]
        return str(body["error"])
    assert body["error"]["code"] == "MISDIRECTED_REQUEST" and body["request_id"]
    return str(body["error"]["message"])


def call(served: Served, host: str | None) -> requests.Response:
    method, path = ROUTES[served.api]
    headers = dict(served.auth)
    if host is not None:
        headers["Host"] = host
    url = served.origin + PREFIXES[served.api] + path
    return requests.request(method, url, headers=headers, timeout=30)


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_a_foreign_host_is_refused_421_in_the_apis_error_body(serve, api):
    served = serve(api)
    for host in (f"rebind.example:{served.port}", "rebind.example", f"localhost:{served.port + 1}"):
        response = call(served, host)
        assert response.status_code == 421, host
        assert "does not serve" in error_of(served, response)


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_the_bound_address_and_loopback_names_are_served(serve, api):
    served = serve(api)
    for name in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]"):
        assert call(served, f"{name}:{served.port}").status_code != 421, name


def test_presigned_urls_name_the_bound_address_whatever_host_was_sent(serve):
    served = serve("atai")
    response = requests.post(
        served.endpoint_url + "/files/uploads/initiate",
        headers={**served.auth, "Host": f"localhost:{served.port}"},
        json={"filename": "a.bin", "file_type": "application/octet-stream", "num_bytes": 10},
        timeout=30,
    )
    assert response.status_code == 200
    (part,) = response.json()["parts"]
    assert part["url"].startswith(f"http://127.0.0.1:{served.port}/storage/")


def test_storage_routes_refuse_a_foreign_host_in_s3_xml(serve):
    served = serve("atai")
    response = requests.put(
        served.origin + "/storage/upl_x/1?X-Amz-Expires=1&X-Amz-Signature=0",
        headers={"Host": "rebind.example"},
        data=b"x",
        timeout=30,
    )
    assert response.status_code == 421
    assert "<Code>MisdirectedRequest</Code>" in response.text


def test_the_public_url_host_is_served_and_signs_the_urls(serve):
    public = "https://files.example.test:8443"
    served = serve("atai", "--set", f"public_url={public}")
    response = requests.post(
        served.endpoint_url + "/files/uploads/initiate",
        headers={**served.auth, "Host": "files.example.test:8443"},
        data=json.dumps(
            {"filename": "a.bin", "file_type": "application/octet-stream", "num_bytes": 10}
        ),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["parts"][0]["url"].startswith(public + "/storage/")
    assert call(served, "other.example.test:8443").status_code == 421
