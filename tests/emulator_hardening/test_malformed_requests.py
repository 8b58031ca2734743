"""Malformed requests get a 4xx in the spec's error body, never a 500: one test per case
that used to be answered 500 (each against a running emulator)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from atai_fs.emulator._shared.server import BackgroundServer

from .apis import AIONVISION, ATAI, FLOW, FLOW_REQUEST, PNG, SANDBOX, FuzzedApi, sandbox_create_body
from .corpus import DEEP_ARRAY, DEEP_OBJECT, HUGE_INT, Multipart, multipart_body
from .wire import Answer, Probe, Wire


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Any]:
    """``running(api)``: the API's emulator, started, and a wire to it."""
    started: list[tuple[BackgroundServer[Any, Any], Wire]] = []

    def start(api: FuzzedApi) -> tuple[BackgroundServer[Any, Any], Wire]:
        emulator = api.start(tmp_path / api.name).start()
        started.append((emulator, Wire(f"http://127.0.0.1:{emulator.port}")))
        return started[-1]

    yield start
    for emulator, wire in started:
        wire.close()
        emulator.stop()


# -- JSON bodies: each API's JSON route, and how its spec words a malformed body ----------
JSON_ROUTES = {
    "atai": "/v0.5/files/uploads/initiate",
    "flow": "/api/v1/flow/test",
    "sandbox": "/v1/sandboxes/sb_fuzz/uploads",
    "aionvision": "/api/v2/uploads/request-presigned-url",
}


def assert_malformed_body_answer(api: FuzzedApi, answer: Answer) -> None:
    if api is ATAI:
        assert answer.status == 400
        assert answer.json()["errors"][0]["code"] == "invalid_body"
    elif api is FLOW:
        assert (answer.status, answer.body) == (400, b"Invalid input\n")
    elif api is SANDBOX:
        assert answer.status == 400
        assert answer.json()["code"] == "invalid_request"
    else:
        assert answer.status == 422
        assert answer.json()["detail"][0]["type"] == "json_invalid"
    assert api.api_error_problem(answer) is None


def post_json_text(api: FuzzedApi, emulator: Any, wire: Wire, text: bytes) -> Answer:
    headers = {**api.base_headers(emulator), "Content-Type": "application/json"}
    return wire.send(Probe("POST", JSON_ROUTES[api.name], headers, text))


APIS = pytest.mark.parametrize("api", [ATAI, FLOW, SANDBOX, AIONVISION], ids=lambda a: a.name)


@APIS
@pytest.mark.parametrize("text", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_malformed_body(running, api, text):
    emulator, wire = running(api)
    assert_malformed_body_answer(api, post_json_text(api, emulator, wire, text.encode()))


@APIS
def test_json_nested_within_the_bound_is_read(running, api):
    emulator, wire = running(api)
    body = '{"filename": "x", "nested": ' + "[" * 60 + "]" * 60 + "}"
    answer = post_json_text(api, emulator, wire, body.encode())
    assert answer.status < 500 or api.prescribed_5xx("flow_test", answer)
    if answer.status >= 400:  # refused for its fields, not as unreadable
        assert b"nests" not in answer.body and b"JSON decode" not in answer.body


@APIS
def test_an_integer_of_thousands_of_digits_is_a_malformed_body(running, api):
    emulator, wire = running(api)
    body = '{"num_bytes": ' + HUGE_INT + ', "size_bytes": 1, "content_length": 2}'
    assert_malformed_body_answer(api, post_json_text(api, emulator, wire, body.encode()))


@APIS
@pytest.mark.parametrize("text", [b'{"a": NaN}', b'{"a": "\xff"}'], ids=["NaN", "not-utf-8"])
def test_json_that_is_not_rfc_8259_is_a_malformed_body(running, api, text):
    emulator, wire = running(api)
    assert_malformed_body_answer(api, post_json_text(api, emulator, wire, text))


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.update(Flow="image-resize"),
        lambda body: body["Flow"].update(Name=7),
        lambda body: body["NodeDefs"][0].update(MaxAttempts=1.5),
        lambda body: body["NodeDefs"][0].update(MaxAttempts=2**63),
    ],
    ids=["Flow-a-string", "Name-a-number", "MaxAttempts-a-float", "MaxAttempts-over-int64"],
)
def test_flow_value_of_the_wrong_type_is_go_decoders_400(running, change):
    _emulator, wire = running(FLOW)
    body = copy.deepcopy(FLOW_REQUEST)
    change(body)
    answer = wire.request("POST", "/api/v1/flow/test", json_body=body)
    assert (answer.status, answer.body) == (400, b"Invalid input\n")


def test_flow_refused_for_its_content_is_still_the_specs_500(running):
    _emulator, wire = running(FLOW)
    body = copy.deepcopy(FLOW_REQUEST)
    body["Flow"]["Nodes"][0]["Uses"] = "pupload/missing"
    answer = wire.request("POST", "/api/v1/flow/test", json_body=body)
    assert answer.status == 500
    assert answer.body.startswith(b"unable to run flow: ")


def test_flow_key_longer_than_s3s_is_the_specs_500_not_a_crash(running):
    _emulator, wire = running(FLOW)
    body = copy.deepcopy(FLOW_REQUEST)
    body["Flow"]["DataWells"][0]["Key"] = "k/" * 600
    answer = wire.request("POST", "/api/v1/flow/test", json_body=body)
    assert answer.status == 500
    assert answer.body.startswith(b"unable to run flow: ") and b"1024 bytes" in answer.body


# -- Range headers ------------------------------------------------------------------------
DATA = bytes(range(256)) * 4


@pytest.fixture
def atai_file(running) -> tuple[Any, Wire, dict[str, str]]:
    """An ATAI emulator holding ``range.bin`` (DATA); the headers of a download."""
    emulator, wire = running(ATAI)
    headers = ATAI.base_headers(emulator)
    data, content_type = multipart_body(Multipart("file", "range.bin", DATA))
    answer = wire.request(
        "POST", "/v0.5/files", body=data, headers={**headers, "Content-Type": content_type}
    )
    assert answer.status == 200, answer.body
    return emulator, wire, headers


@pytest.mark.parametrize(
    "header", ["bytes=²-", "bytes=-²", "bytes=0-²", "bytes=\u0661-", "bytes=\u0661-\u0662"]
)
def test_range_with_a_non_ascii_digit_is_ignored(atai_file, header):
    _, wire, headers = atai_file
    answer = wire.request(
        "GET", "/v0.5/files/download/range.bin", headers={**headers, "Range": header}
    )
    assert (answer.status, answer.body) == (200, DATA)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-" + "9" * 5000, 0, 1024),
        ("bytes=-" + "9" * 5000, 0, 1024),
        ("bytes=" + "0" * 5000 + "-1", 0, 2),
    ],
    ids=["end", "suffix", "zeros"],
)
def test_range_positions_of_thousands_of_digits_are_read(atai_file, header, start, end):
    _, wire, headers = atai_file
    answer = wire.request(
        "GET", "/v0.5/files/download/range.bin", headers={**headers, "Range": header}
    )
    assert (answer.status, answer.body) == (206, DATA[start:end])


def test_range_past_the_end_is_416_in_the_envelope(atai_file):
    _, wire, headers = atai_file
    answer = wire.request(
        "GET",
        "/v0.5/files/download/range.bin",
        headers={**headers, "Range": "bytes=" + "9" * 5000 + "-"},
    )
    assert answer.status == 416
    assert answer.headers["content-range"] == "bytes */1024"
    assert answer.json()["errors"][0]["code"] == "range_not_satisfiable"


# -- signatures and keys ------------------------------------------------------------------
def part_url(running: Any, api: FuzzedApi) -> tuple[Wire, str, dict[str, str]]:
    """A live presigned PUT URL of ``api`` (path and query), and the headers its PUT needs."""
    emulator, wire = running(api)
    seed = api.seed(wire, emulator)
    key = seed.params["key"]
    headers = {"Content-Type": "image/png"} if api is AIONVISION else {}
    return wire, f"/storage/{key}?{seed.query['storage_put']}", headers


STORAGE_APIS = pytest.mark.parametrize("api", [ATAI, FLOW, AIONVISION], ids=lambda a: a.name)


@STORAGE_APIS
@pytest.mark.parametrize("signature", ["%C3%A9" * 32, "%C2%B2", "%FF", "%ED%A0%80"])
def test_non_ascii_signature_is_signature_does_not_match(running, api, signature):
    wire, url, headers = part_url(running, api)
    path, query = url.split("?")
    forged = "&".join(
        f"X-Amz-Signature={signature}" if p.startswith("X-Amz-Signature=") else p
        for p in query.split("&")
    )
    answer = wire.request("PUT", f"{path}?{forged}", body=b"0123456789", headers=headers)
    assert answer.status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in answer.body


@pytest.mark.parametrize("api", [ATAI, SANDBOX, AIONVISION], ids=lambda a: a.name)
def test_authorization_that_is_not_utf_8_is_401(running, api):
    _emulator, wire = running(api)
    target = {
        "atai": "/v0.5/files/info",
        "sandbox": "/v1/sandboxes/sb_fuzz/uploads/up_x",
        "aionvision": "/api/v2/uploads/quota-check?file_count=1",
    }[api.name]
    answer = wire.send(Probe("GET", target, {"Authorization": b"Bearer \xff\xfe"}))
    assert answer.status == 401
    assert api.api_error_problem(answer) is None


def test_flow_keys_dir_then_dir_child_are_two_objects_in_either_order(running):
    emulator, wire = running(FLOW)
    for keys in (["a/dir", "a/dir/child"], ["b/dir/child", "b/dir"]):
        runs = []
        for key in keys:
            body = copy.deepcopy(FLOW_REQUEST)
            body["Flow"]["DataWells"][0]["Key"] = key
            runs.append(wire.request("POST", "/api/v1/flow/test", json_body=body).json())
        for run, key in zip(runs, keys, strict=True):
            put = urlsplit(run["WaitingURLs"][0]["PutURL"])
            answer = wire.request("PUT", f"{put.path}?{put.query}", body=key.encode())
            assert answer.status == 200, answer.body
        for run, key in zip(runs, keys, strict=True):
            assert emulator.uploaded(run["ID"], "in") == key.encode()


# -- multipart filenames ------------------------------------------------------------------
MULTIPART_ROUTES = pytest.mark.parametrize(
    ("api", "route", "field"),
    [(ATAI, "/v0.5/files", "file"), (AIONVISION, "/api/v2/user-files/upload/stream", "file")],
    ids=["atai", "aionvision"],
)


@MULTIPART_ROUTES
@pytest.mark.parametrize("name", ["a\x00b.png", "a\nb.png", "a\rb.png", "a\r\nb.png"])
def test_raw_nul_or_newline_in_a_multipart_filename_is_a_malformed_body(
    running, api, route, field, name
):
    emulator, wire = running(api)
    data, content_type = multipart_body(Multipart(field, name, PNG))
    answer = wire.request(
        "POST",
        route,
        body=data,
        headers={**api.base_headers(emulator), "Content-Type": content_type},
    )
    assert answer.status == 400
    assert api.api_error_problem(answer) is None


@MULTIPART_ROUTES
@pytest.mark.parametrize(
    "body",
    [
        b'--fuzzboundary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n',
        b'--fuzzboundary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"\r\n" + PNG,
        b"no boundary at all",
        b"",
    ],
    ids=["cut-in-headers", "cut-in-content", "no-boundary", "empty"],
)
def test_multipart_body_cut_short_or_unframed_is_a_malformed_body(running, api, route, field, body):
    emulator, wire = running(api)
    headers = {
        **api.base_headers(emulator),
        "Content-Type": "multipart/form-data; boundary=fuzzboundary",
    }
    answer = wire.request("POST", route, body=body, headers=headers)
    assert 400 <= answer.status < 500
    assert api.api_error_problem(answer) is None


@pytest.mark.parametrize("encoded", ["a%00b.csv", "a%0Ab.csv", "a%0Db.csv", "%7F.csv"])
def test_atai_file_name_with_a_control_character_is_invalid_parameter(running, encoded):
    """Escaped (``filename*=``), the name arrives whole: a name no path could name again."""
    emulator, wire = running(ATAI)
    data, content_type = multipart_body(Multipart("file", "x.csv", b"a,b\n"))
    data = data.replace(b'filename="x.csv"', f"filename*=utf-8''{encoded}".encode())
    answer = wire.request(
        "POST",
        "/v0.5/files",
        body=data,
        headers={**ATAI.base_headers(emulator), "Content-Type": content_type},
    )
    assert answer.status == 400
    assert answer.json()["errors"][0]["code"] == "invalid_parameter"
    assert b"control characters" in answer.body


def test_atai_initiate_with_a_newline_in_the_filename_is_invalid_parameter(running):
    emulator, wire = running(ATAI)
    answer = wire.request(
        "POST",
        "/v0.5/files/uploads/initiate",
        headers=ATAI.base_headers(emulator),
        json_body={"filename": "a\nb.csv", "file_type": "text/csv", "num_bytes": 1},
    )
    assert answer.status == 400
    assert answer.json()["errors"][0]["code"] == "invalid_parameter"


# -- paths ----------------------------------------------------------------------------------
def test_sandbox_part_number_with_a_non_ascii_digit_is_part_out_of_range(running):
    emulator, wire = running(SANDBOX)
    seed = SANDBOX.seed(wire, emulator)
    answer = wire.request(
        "PUT",
        f"/v1/sandboxes/sb_fuzz/uploads/{seed.params['upload_id']}/parts/%C2%B2",
        body=b"0123456789",
        headers=SANDBOX.base_headers(emulator),
    )
    assert answer.status == 400
    assert answer.json()["error_detail"]["reason"] == "part_out_of_range"


@STORAGE_APIS
def test_storage_wrong_method_and_unknown_path_are_s3_xml(running, api):
    _emulator, wire = running(api)
    wrong_method = wire.request("POST", "/storage/some/key")
    assert wrong_method.status == 405
    assert b"<Code>MethodNotAllowed</Code>" in wrong_method.body
    assert "PUT" in wrong_method.headers["allow"]
    unknown = wire.request("GET", "/storage/a%0Ab")
    assert unknown.status == 404
    assert b"<Code>NoSuchKey</Code>" in unknown.body


@pytest.mark.parametrize("target", ["/workspace/" + "n" * 256, "/workspace/" + "d/" * 2100 + "f"])
def test_sandbox_path_no_filesystem_takes_is_invalid_request(running, target):
    emulator, wire = running(SANDBOX)
    create = wire.request(
        "POST",
        "/v1/sandboxes/sb_fuzz/uploads",
        json_body={**sandbox_create_body(), "target_path": target},
        headers=SANDBOX.base_headers(emulator),
    )
    direct = wire.request(
        "PUT",
        f"/v1/machines/sb_fuzz/file?path={target}",
        body=b"0123456789",
        headers=SANDBOX.base_headers(emulator),
    )
    for answer in (create, direct):
        assert answer.status == 400
        assert answer.json()["code"] == "invalid_request"
