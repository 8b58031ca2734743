"""A deterministic corpus of malformed requests for one route of an emulator.

Every route gets the same families of probes, built from what its router says (method,
path template) and from what its API module knows (:class:`Template`: a valid body,
query and headers; :class:`Seed`: path values of live resources), so a new route is
fuzzed without being listed anywhere:

- the cases named in the issue that asked for this: deeply nested JSON, integers of
  thousands of digits, ``Range: bytes=²-``, a non-ASCII signature, NUL and newlines in
  a multipart filename;
- malformed and truncated bodies, wrong JSON types in each field of a valid body;
- non-ASCII, control characters and odd lengths in path values, query values and
  header values; bad ``Authorization`` and ``Range`` headers; wrong methods;
- seeded random mixtures of all of these.

``random.Random`` seeded by the route makes each run send the same requests.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from .wire import Probe

# -- the raw JSON texts json.dumps cannot write ------------------------------------------
HUGE_INT = "1" + "0" * 5000
"""An integer of thousands of digits: past Python's int/str conversion limit."""
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
RAW_VALUES = (HUGE_INT, "-" + HUGE_INT, DEEP_ARRAY, DEEP_OBJECT, "1e99999", "NaN", "-Infinity")
"""JSON values (or near-JSON) substituted as raw text into a valid body."""

WRONG_VALUES: tuple[Any, ...] = (
    None, True, False, -1, 0, 2**64, 1.5, 1e308, "", "x", "\x00", "a\nb", "²", "é" * 300,
    "9" * 5000, [], {}, [[[[]]]], {"a": {"b": None}}, [None, 1, "x"], "../../etc/passwd",
)  # fmt: skip
"""Values of the wrong type or shape for any field."""

MALFORMED_BODIES: tuple[tuple[str, bytes], ...] = (
    ("empty body", b""),
    ("whitespace body", b"  \r\n\t "),
    ("truncated JSON", b'{"a": [1, 2'),
    ("truncated string", b'{"a": "x'),
    ("not UTF-8", b'{"a": "\xff\xfe"}'),
    ("UTF-16 with BOM", '{"a": 1}'.encode("utf-16")),
    ("lone surrogate escape", b'{"a": "\\ud800"}'),
    ("deeply nested arrays", DEEP_ARRAY.encode()),
    ("deeply nested objects", DEEP_OBJECT.encode()),
    ("integer of thousands of digits", HUGE_INT.encode()),
    ("NaN literal", b'{"a": NaN}'),
    ("top-level array", b"[]"),
    ("top-level string", b'"x"'),
    ("top-level null", b"null"),
    ("top-level number", b"12"),
    ("random bytes", bytes(range(256))),
    ("NUL bytes", b"\x00" * 64),
)

PATH_VALUES = (
    "%00", "%0A", "%0D%0A", "%C2%B2", "%FF", "%FE%FF", "%E2%80%AE", "%2E%2E", "..", "%2F",
    "a%2Fb", "%20", "%25", "%3F", "x" * 3000, "%F0%9F%92%A9", "%C3%A9", "-1", "1" * 400,
)  # fmt: skip
"""Raw (percent-encoded) values for one path segment."""

QUERY_VALUES = (
    "", "%C2%B2", "%D9%A1", "%00", "%0A", "%FF", "-1", "1e3", "nan", "inf", "1" * 5000,
    "0x10", "%E2%80%AE", "true", "a" * 3000, "%ED%A0%80",
)  # fmt: skip

QUERY_NAMES = (
    "limit", "after", "before", "offset", "shard_index", "max_items_per_shard", "file_type",
    "file_count", "include_failed", "X-Amz-Expires", "X-Amz-Signature",
)  # fmt: skip
"""Query parameters some route of some emulator reads: every route gets some of them."""

SIGNATURES = (
    "%C3%A9" * 32, "%FF" * 64, "%00", "%C2%B2", "%ED%A0%80", "0" * 64, "g" * 64, "A" * 5000, "",
)  # fmt: skip
"""``X-Amz-Signature`` values replacing a valid one: non-ASCII, not UTF-8, NUL, huge."""

EXPIRIES = ("nan", "inf", "-inf", "1e999", "%C2%B2", "%ED%A0%80", "1" * 5000, "", "0x10")

RANGES = (
    "bytes=²-", "bytes=-²", "bytes=0-²", "bytes=\u0661-\u0662", "bytes=0-0,1-1", "bytes=5-1",
    "bytes=-0", "bytes=--1", "bytes= 1-2", "bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000,
    "bytes=-" + "9" * 5000, "items=0-1", "bytes=", "bytes=-", "bytes=0x1-0x2", "bytes=1e3-",
    "bytes=+1-2", "bytes=1_000-", "bytes=\u00e9-",
)  # fmt: skip
"""``Range`` values: non-ASCII digits (``str.isdigit`` accepts ``²``), huge, reversed..."""

AUTHORIZATIONS = (
    None, "", "Bearer", "Bearer ", "Bearer é", "Bearer \u00ff" * 40, "Basic Zm9vOmJhcg==",
    "bearer x", "Bearer " + "k" * 8000, "Bearer\tx", "\u00e9",
)  # fmt: skip
"""``Authorization`` values; None drops the header."""

CONTENT_TYPES = (
    "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=é",
    "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
    "é/é", "",
)  # fmt: skip

FILENAMES = (
    "a\x00b.csv", "a\nb.csv", "a\rb.csv", "a\r\nb.csv", "../../escape.csv", "/abs.csv",
    "a\\b.csv", "", "²", "é" * 100 + ".png", "x" * 3000 + ".png", 'qu"ote.png', ".", "..",
    "a/b.png", "\x7f.png", "tab\t.png",
)  # fmt: skip
"""Multipart filenames: NUL, CR, LF, separators, dots, empty, non-ASCII, huge."""

EXTRA_HEADERS: tuple[tuple[str, str | bytes], ...] = (
    ("Authorization", b"Bearer \xff\xfe"),
    ("Range", b"bytes=\xff-"),
    ("Idempotency-Key", b"\xed\xa0\x80"),
    ("Content-Type", b"multipart/form-data; boundary=\xff"),
    ("Idempotency-Key", "é" * 10),
    ("Idempotency-Key", "k" * 5000),
    ("Idempotency-Key", ""),
    ("x-nullspace-part-sha256", "é" * 64),
    ("x-nullspace-part-sha256", "z" * 64),
    ("Content-Type", "é"),
    ("Accept", "\u00ff"),
    ("Expect", "100-continue"),
)

FRAMING_HEADERS = (
    ("Transfer-Encoding", "gzip"),
    ("Authorization", "Bearer " + "k" * 9000),
    ("X-Padding", "p" * 9000),
)
"""Headers that make the request invalid HTTP/1.1 (a line over aiohttp's 8190 bytes,
``Transfer-Encoding`` beside ``Content-Length``): refused by the HTTP parser before
any application code, so with its 400 and not an API's error body."""

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

VALID_TEMPLATE = "the valid template"
"""The case name of each route's first probe: its template unbroken."""

_PARAM = re.compile(r"\{(\w+)\}")
_RAW = "\ue000raw{}\ue000"


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body with one file part and optional text fields."""

    field: str
    filename: str
    content: bytes
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Template:
    """A valid request to one route, which the corpus then breaks one way at a time."""

    body: dict[str, Any] | Multipart | bytes | None = None
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seed:
    """Values that reach a route's handler: path values of live resources, and the valid
    query of routes that need one (the signature of a presigned URL)."""

    params: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    """Route name -> raw query string."""


# -- bodies -------------------------------------------------------------------------------
def multipart_body(part: Multipart, boundary: str = "fuzzboundary") -> tuple[bytes, str]:
    """The encoded body and its Content-Type; the filename is written as given, raw."""
    out = bytearray()
    for name, value in part.fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{part.field}"; '
        f'filename="{part.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode("utf-8", "surrogateescape")
    out += part.content + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def json_text(value: Any) -> bytes:
    """``value`` as JSON, with :data:`RAW_VALUES` placeholders (``raw(i)``) as raw text."""
    text = json.dumps(value, ensure_ascii=False)
    for index, raw in enumerate(RAW_VALUES):
        text = text.replace(json.dumps(raw_placeholder(index), ensure_ascii=False), raw)
    return text.encode("utf-8", "surrogatepass")


def raw_placeholder(index: int) -> str:
    return _RAW.format(index)


def _paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location inside a JSON value (keys and indexes), outermost first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths_of(item, (*prefix, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replaced(value[head], tuple(rest), new) if rest else new
    return copy


# -- the corpus of one route --------------------------------------------------------------
class RouteCorpus:
    """The probes of one route, given its template, the seed and the API's base headers."""

    def __init__(
        self,
        route: web.AbstractRoute,
        template: Template,
        seed: Seed,
        base_headers: Callable[[], dict[str, str]],
        *,
        random_probes: int,
    ) -> None:
        info = route.resource.get_info() if route.resource is not None else {}
        self.route = route
        self.name = route.name or ""
        self.method = route.method
        self.formatter: str = info.get("formatter") or info.get("path") or ""
        self.params = _PARAM.findall(self.formatter)
        self.template = template
        self.seed = seed
        self.base_headers = base_headers
        """Called for each probe: an API may want a fresh ``Idempotency-Key`` each time."""
        self.random_probes = random_probes
        self.rng = random.Random(f"{self.method} {self.formatter}")

    # -- building blocks ------------------------------------------------------------------
    def path(self, **override: str) -> str:
        values = {p: self.seed.params.get(p, "x") for p in self.params}
        values.update(override)
        return _PARAM.sub(lambda m: values[m.group(1)], self.formatter)

    def query(self) -> str:
        return self.seed.query.get(self.name) or self.template.query

    def target(self, path: str | None = None, query: str | None = None) -> str:
        query = self.query() if query is None else query
        path = self.path() if path is None else path
        return f"{path}?{query}" if query else path

    def body(self) -> tuple[bytes, dict[str, str]]:
        """The template's valid body and the headers it needs."""
        body = self.template.body
        if isinstance(body, Multipart):
            data, content_type = multipart_body(body)
            return data, {"Content-Type": content_type}
        if isinstance(body, dict):
            return json_text(body), {"Content-Type": "application/json"}
        if isinstance(body, bytes):
            return body, {"Content-Type": "application/octet-stream"}
        return b"", {}

    def probe(
        self,
        case: str,
        *,
        method: str | None = None,
        target: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str | bytes | None] | None = None,
    ) -> Probe:
        valid_body, body_headers = self.body()
        merged: dict[str, str | bytes | None] = {
            **self.base_headers(),
            **body_headers,
            **self.template.headers,
            **(headers or {}),
        }
        return Probe(
            method or self.method,
            target if target is not None else self.target(),
            {name: value for name, value in merged.items() if value is not None},
            valid_body if body is None else body,
            case,
        )

    # -- the families -----------------------------------------------------------------------
    def probes(self) -> Iterator[Probe]:
        yield self.probe(VALID_TEMPLATE)
        yield from self.body_probes()
        yield from self.field_probes()
        yield from self.multipart_probes()
        yield from self.path_probes()
        yield from self.query_probes()
        yield from self.header_probes()
        yield from self.method_probes()
        yield from self.random_mixtures()

    def body_probes(self) -> Iterator[Probe]:
        for case, data in MALFORMED_BODIES:
            yield self.probe(case, body=data, headers={"Content-Type": "application/json"})
        valid, _ = self.body()
        if len(valid) > 1:
            yield self.probe("truncated valid body", body=valid[: len(valid) // 2])

    def field_probes(self) -> Iterator[Probe]:
        body = self.template.body
        if not isinstance(body, dict):
            return
        headers: dict[str, str | None] = {"Content-Type": "application/json"}
        for key in body:  # the named cases in every field
            for index in (0, 2):  # HUGE_INT, DEEP_ARRAY
                mutated = json_text(_replaced(body, (key,), raw_placeholder(index)))
                yield self.probe(f"{key} = {RAW_VALUES[index][:12]}...", body=mutated)
        locations = list(_paths_of(body)) or [("x",)]
        for _ in range(12):
            location = self.rng.choice(locations)
            new = self.rng.choice(
                [*WRONG_VALUES, *(raw_placeholder(i) for i in range(len(RAW_VALUES)))]
            )
            mutated = json_text(_replaced(body, location, new))
            yield self.probe(f"{location} = {new!r:.40}", body=mutated, headers=headers)

    def multipart_probes(self) -> Iterator[Probe]:
        part = self.template.body
        if not isinstance(part, Multipart):
            part = Multipart("file", "fuzz.csv", b"a,b\n")
            if self.template.body is not None or self.method not in ("POST", "PUT"):
                return
        for name in FILENAMES:
            data, content_type = multipart_body(
                Multipart(part.field, name, part.content, part.fields)
            )
            yield self.probe(
                f"multipart filename {name[:20]!r}",
                body=data,
                headers={"Content-Type": content_type},
            )
        data, content_type = multipart_body(part)
        yield self.probe(
            "multipart filename* in latin-1",
            body=data.replace(b'filename="', b"filename*=iso-8859-1''%E9%FF; x=\""),
            headers={"Content-Type": content_type},
        )
        yield self.probe("truncated multipart", body=data[: len(data) // 2], headers={
            "Content-Type": content_type})  # fmt: skip
        yield self.probe("multipart without parts", body=b"--fuzzboundary--\r\n", headers={
            "Content-Type": content_type})  # fmt: skip
        yield self.probe("multipart with a wrong boundary", body=data, headers={
            "Content-Type": "multipart/form-data; boundary=other"})  # fmt: skip
        for content_type in CONTENT_TYPES:
            yield self.probe(
                f"Content-Type {content_type!r}", body=data, headers={"Content-Type": content_type}
            )

    def path_probes(self) -> Iterator[Probe]:
        for param in self.params:
            for value in PATH_VALUES:
                yield self.probe(
                    f"path {param} = {value[:20]}", target=self.target(self.path(**{param: value}))
                )

    def query_probes(self) -> Iterator[Probe]:
        query = self.query()
        if "X-Amz-Signature=" in query:
            for signature in SIGNATURES:
                yield self.probe(
                    f"signature {signature[:20]!r}",
                    target=self.target(
                        query=re.sub(
                            r"X-Amz-Signature=[^&]*", "X-Amz-Signature=" + signature, query
                        )
                    ),
                )
            for expiry in EXPIRIES:
                yield self.probe(
                    f"expiry {expiry[:20]!r}",
                    target=self.target(
                        query=re.sub(r"X-Amz-Expires=[^&]*", "X-Amz-Expires=" + expiry, query)
                    ),
                )
        own = [pair.split("=", 1)[0] for pair in query.split("&") if pair]
        names = [*own, *self.rng.sample(QUERY_NAMES, 3)]
        for name in names:
            for value in self.rng.sample(QUERY_VALUES, 3):
                pairs = [p for p in query.split("&") if p and not p.startswith(name + "=")]
                pairs.append(f"{name}={value}")
                yield self.probe(f"query {name} = {value[:20]}", target=self.target(
                    query="&".join(pairs)))  # fmt: skip

    def header_probes(self) -> Iterator[Probe]:
        for authorization in AUTHORIZATIONS:
            yield self.probe(
                f"Authorization {authorization!r:.30}", headers={"Authorization": authorization}
            )
        ranges = RANGES if self.method in ("GET", "HEAD") else self.rng.sample(RANGES, 3)
        for value in ranges:
            yield self.probe(f"Range {value[:20]!r}", headers={"Range": value})
        for name, value in EXTRA_HEADERS:
            yield self.probe(f"{name} {value[:20]!r}", headers={name: value})
        for name, value in FRAMING_HEADERS:
            yield replace(self.probe(f"framing: {name} {value[:20]!r}", headers={name: value}),
                          framing=True)  # fmt: skip

    def method_probes(self) -> Iterator[Probe]:
        for method in METHODS:
            if method != self.method:
                yield self.probe(f"method {method}", method=method)

    def random_mixtures(self) -> Iterator[Probe]:
        rng = self.rng
        for index in range(self.random_probes):
            path = self.path(
                **{p: rng.choice(PATH_VALUES) for p in self.params if rng.random() < 0.3}
            )
            query = self.query()
            if rng.random() < 0.5:
                query += f"&{rng.choice(QUERY_NAMES)}={rng.choice(QUERY_VALUES)}"
            headers: dict[str, str | bytes | None] = {}
            if rng.random() < 0.3:
                headers["Authorization"] = rng.choice(AUTHORIZATIONS)
            if rng.random() < 0.3:
                headers["Range"] = rng.choice(RANGES)
            if rng.random() < 0.3:
                name, value = rng.choice(EXTRA_HEADERS)
                headers[name] = value
            body: bytes | None = None
            roll = rng.random()
            if roll < 0.3:
                body = rng.randbytes(rng.randint(0, 512))
            elif roll < 0.6:
                body = json_text(_random_json(rng, depth=4))
            elif roll < 0.7:
                body = base64.b64encode(rng.randbytes(64))
            yield self.probe(
                f"random mixture {index}",
                method=rng.choice((self.method, self.method, rng.choice(METHODS))),
                target=f"{path}?{query}",
                body=body,
                headers=headers,
            )


def _random_json(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth == 0 or roll < 0.4:
        return rng.choice([*WRONG_VALUES, *(raw_placeholder(i) for i in (0, 4, 5))])
    if roll < 0.7:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    keys = ("filename", "num_bytes", "parts", "part_numbers", "hashes", "Flow", "kind", "x")
    return {rng.choice(keys): _random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))}
