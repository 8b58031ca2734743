"""The flow emulator over raw HTTP: the controller's answers and the store's checks."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from atai_fs.emulator._shared.stats import EmulatorStats
from atai_fs.emulator._shared.storage import PresignedStorage
from atai_fs.emulator.flow.runs import rfc3339

from .conftest import NODE_DEFS, STORE, image_resize_flow, two_input_flow


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) of one request, error statuses included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def start(emulator, flow: dict[str, Any], node_defs=NODE_DEFS) -> dict[str, Any]:
    body = json.dumps({"Flow": flow, "NodeDefs": node_defs}).encode()
    status, _, answer = call(
        "POST", f"{emulator.endpoint_url}/flow/test", body, {"Content-Type": "application/json"}
    )
    assert status == 200, answer
    return json.loads(answer)


def status_of(emulator, run_id: str) -> dict[str, Any]:
    status, _, answer = call("GET", f"{emulator.endpoint_url}/flow/status/{run_id}")
    assert status == 200, answer
    return json.loads(answer)


def put(url: str, data: bytes, headers: dict[str, str] | None = None):
    return call("PUT", url, data, headers)


def test_start_answers_waiting_with_one_url_per_upload_well(emulator):
    run = start(emulator, two_input_flow())
    assert list(run) == ["ID", "NodeState", "Status", "Artifacts", "WaitingURLs"]
    assert run["Status"] == "WAITING"
    assert run["ID"][14] == "7"  # UUIDv7
    edges = sorted(w["Artifact"]["EdgeName"] for w in run["WaitingURLs"])
    assert edges == ["image-input", "table-input"]
    waiting = run["WaitingURLs"][0]
    assert waiting["Artifact"]["ObjectName"] == f"{waiting['Artifact']['EdgeName']}_{run['ID']}"
    assert "X-Amz-Signature=" in waiting["PutURL"]
    assert run["NodeState"]["join"]["Status"] == "IDLE"
    assert run["NodeState"]["join"]["MaxAttempts"] == 3


def test_key_templates_expand_at_creation(emulator):
    run = start(
        emulator, image_resize_flow(Key="${FLOW_NAME}/${DATE}/${RUN_ID}-${EDGE}${NOPE}.jpg")
    )
    name = run["WaitingURLs"][0]["Artifact"]["ObjectName"]
    assert (
        name
        == f"image-resize/{time.strftime('%Y-%m-%d', time.gmtime())}/{run['ID']}-image-input.jpg"
    )


def test_ttl_is_rfc3339_one_hour_ahead(emulator):
    from atai_fs.targets.flow import parse_rfc3339

    run = start(emulator, image_resize_flow())
    ttl = run["WaitingURLs"][0]["TTL"]
    assert ttl.endswith("Z")
    assert 3590 < parse_rfc3339(ttl) - time.time() <= 3600


@pytest.mark.parametrize("fraction", [0.0, 0.0004, 0.0005, 0.0006, 0.9996, 0.9999])
def test_url_expiry_is_issue_time_plus_lifetime_truncated_never_rounded_up(tmp_path, fraction):
    # Regression: the expiry was rounded to the nearest millisecond, so a TTL could land
    # up to 0.5 ms after "creation + 1 h" and after what a client read from its clock.
    storage = PresignedStorage(tmp_path / "objects", b"secret", EmulatorStats())
    issued_at = 1_772_560_800 + fraction
    url, expiry = storage.presign_put("bucket/object", "http://h", 3600, issued_at=issued_at)
    assert issued_at + 3600 - 0.001 < expiry <= issued_at + 3600
    signed = url.split("X-Amz-Expires=")[1].split("&")[0]
    assert rfc3339(expiry) == rfc3339(float(signed))  # the TTL is the instant enforced


def test_upload_is_detected_then_the_run_runs_and_completes(emulator):
    run = start(emulator, image_resize_flow())
    status, headers, body = put(run["WaitingURLs"][0]["PutURL"], b"jpeg bytes")
    assert (status, body) == (200, b"")
    assert headers["ETag"].startswith('"')
    after = status_of(emulator, run["ID"])
    assert after["Status"] == "RUNNING"
    assert after["WaitingURLs"] == []
    assert after["Artifacts"]["image-input"]["StoreName"] == "uploads"
    assert after["NodeState"]["resize"]["Status"] == "RUNNING"
    done = status_of(emulator, run["ID"])
    assert done["Status"] == "COMPLETE"
    assert done["Artifacts"]["resized"]["ObjectName"] == f"resized_{run['ID']}"


def test_empty_upload_satisfies_the_well(emulator):
    run = start(emulator, image_resize_flow())
    assert put(run["WaitingURLs"][0]["PutURL"], b"")[0] == 200
    assert "image-input" in status_of(emulator, run["ID"])["Artifacts"]


def test_reupload_before_expiry_overwrites(emulator):
    run = start(emulator, image_resize_flow())
    url = run["WaitingURLs"][0]["PutURL"]
    put(url, b"first")
    status_of(emulator, run["ID"])
    assert put(url, b"second")[0] == 200
    assert emulator.uploaded(run["ID"], "image-input") == b"second"


def test_unknown_run_is_400_with_the_zero_run_appended(emulator):
    status, headers, body = call("GET", f"{emulator.endpoint_url}/flow/status/nope")
    assert status == 400
    assert headers["Content-Type"].startswith("text/plain")
    first, second = body.decode().splitlines()
    assert first == "Flow run does not exist."
    assert json.loads(second)["ID"] == ""


def test_docs_error_style_is_json_and_404(make_emulator):
    emulator = make_emulator(error_style="docs")
    status, _, body = call("GET", f"{emulator.endpoint_url}/flow/status/nope")
    assert (status, json.loads(body)) == (404, {"error": "Flow run does not exist."})


def test_invalid_json_is_400_invalid_input(emulator):
    status, _, body = call("POST", f"{emulator.endpoint_url}/flow/test", b"{not json")
    assert (status, body) == (400, b"Invalid input\n")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f["Nodes"][0].update(Uses="pupload/missing"), "no node def"),
        (lambda f: f["DataWells"][0].update(Store="nowhere"), "not defined"),
        (lambda f: f["DataWells"][0].update(Source="ftp"), "unknown source"),
        (lambda f: f["DataWells"][0].update(Edge="unused"), "not used by any node"),
        (lambda f: f["Stores"][0].update(Type="gcs"), "only s3"),
        (lambda f: f["Stores"][0]["Params"].update(Region="x"), "unknown field"),
        (lambda f: f["DataWells"][0].update(Source="static"), "needs a Key"),
        (lambda f: f["DataWells"][0].update(Source="static", Key="absent"), "does not exist"),
    ],
)
def test_refused_flow_is_500_unable_to_run_flow(emulator, change, reason):
    flow = json.loads(json.dumps(image_resize_flow()))
    change(flow)
    body = json.dumps({"Flow": flow, "NodeDefs": NODE_DEFS}).encode()
    status, headers, answer = call("POST", f"{emulator.endpoint_url}/flow/test", body)
    assert status == 500
    assert headers["Content-Type"].startswith("text/plain")
    assert answer.decode().startswith("unable to run flow: ")
    assert reason in answer.decode()


def test_field_names_are_case_insensitive(emulator):
    flow = {
        "name": "lower",
        "stores": [{"name": "uploads", "type": "s3", "params": {"bucketname": "b"}}],
        "datawells": [{"edge": "in", "store": "uploads", "source": "upload"}],
        "nodes": [{"id": "n", "uses": "pupload/ffmpeg", "inputs": [{"name": "i", "edge": "in"}]}],
    }
    assert start(emulator, flow)["Status"] == "WAITING"


def test_static_well_of_an_existing_object_is_an_artifact(emulator):
    first = start(emulator, image_resize_flow(Key="shared/input.jpg"))
    put(first["WaitingURLs"][0]["PutURL"], b"jpeg")
    second = start(emulator, image_resize_flow(Key="shared/input.jpg", Source="static"))
    assert second["WaitingURLs"] == []
    assert second["Artifacts"]["image-input"]["ObjectName"] == "shared/input.jpg"


@pytest.mark.parametrize("path", ["/upload", "/upload/run/edge", "/flow/nothing"])
def test_unknown_routes_are_404_page_not_found(emulator, path):
    status, _, body = call("POST", f"{emulator.endpoint_url}{path}", b"{}")
    assert (status, body) == (404, b"404 page not found\n")


def test_altered_url_is_403_signature_does_not_match(emulator):
    run = start(emulator, image_resize_flow())
    url = run["WaitingURLs"][0]["PutURL"].replace("/my-uploads/", "/my-uploads/x")
    status, _, body = put(url, b"data")
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in body


def test_expired_url_is_403_and_the_run_waits_forever(make_emulator):
    emulator = make_emulator(url_lifetime=0.1)
    run = start(emulator, image_resize_flow())
    time.sleep(0.2)
    status, _, body = put(run["WaitingURLs"][0]["PutURL"], b"data")
    assert status == 403
    assert b"Request has expired" in body
    assert status_of(emulator, run["ID"])["Status"] == "WAITING"


def test_on_expiry_error_fails_the_run(make_emulator):
    emulator = make_emulator(url_lifetime=0.1, on_expiry="error")
    run = start(emulator, image_resize_flow())
    time.sleep(0.2)
    after = status_of(emulator, run["ID"])
    assert after["Status"] == "ERROR"
    assert "expired" in after["NodeState"]["resize"]["Error"]


def test_authorization_header_is_refused(emulator):
    run = start(emulator, image_resize_flow())
    status, _, body = put(run["WaitingURLs"][0]["PutURL"], b"x", {"Authorization": "Bearer k"})
    assert status == 400
    assert b"InvalidArgument" in body


def test_chunked_body_is_411(emulator):
    run = start(emulator, image_resize_flow())
    parts = urlsplit(run["WaitingURLs"][0]["PutURL"])
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("PUT", f"{parts.path}?{parts.query}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"4\r\ndata\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 411
    assert b"MissingContentLength" in response.read()
    connection.close()


def test_object_over_the_limit_is_400_entity_too_large(make_emulator):
    emulator = make_emulator(max_object_size=10)
    run = start(emulator, image_resize_flow())
    status, _, body = put(run["WaitingURLs"][0]["PutURL"], b"x" * 11)
    assert status == 400
    assert b"EntityTooLarge" in body
    assert put(run["WaitingURLs"][0]["PutURL"], b"x" * 10)[0] == 200


def test_purge_forgets_a_finished_run_on_the_next_pass(make_emulator):
    emulator = make_emulator(purge_finished=True)
    run = start(emulator, image_resize_flow())
    put(run["WaitingURLs"][0]["PutURL"], b"jpeg")
    assert status_of(emulator, run["ID"])["Status"] == "RUNNING"
    assert status_of(emulator, run["ID"])["Status"] == "COMPLETE"
    assert call("GET", f"{emulator.endpoint_url}/flow/status/{run['ID']}")[0] == 400


def test_detect_interval_steps_runs_on_a_schedule(make_emulator):
    emulator = make_emulator(detect_interval=0.05)
    run = start(emulator, image_resize_flow())
    put(run["WaitingURLs"][0]["PutURL"], b"jpeg")
    deadline = time.monotonic() + 5
    while status_of(emulator, run["ID"])["Status"] != "COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_injected_status_on_the_controller_is_plain_text(emulator):
    emulator.faults.add(route="flow_status", status=503, retry_after=1, times=1)
    status, headers, body = call("GET", f"{emulator.endpoint_url}/flow/status/x")
    assert (status, headers["Retry-After"]) == (503, "1")
    assert headers["Content-Type"].startswith("text/plain")
    assert body == b"Injected fault: 503\n"


def test_stats_count_routes_and_stored_puts(emulator):
    run = start(emulator, image_resize_flow())
    put(run["WaitingURLs"][0]["PutURL"], b"12345")
    assert emulator.stats.requests_by_route == {"flow_test": 1, "storage_put": 1}
    assert (emulator.stats.part_puts, emulator.stats.bytes_received) == (1, 5)
    assert STORE["Params"]["BucketName"] == "my-uploads"
    assert emulator.store.read("my-uploads", f"image-input_{run['ID']}") == b"12345"
