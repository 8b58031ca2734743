"""Requests exactly as written: raw percent-encoded paths, UTF-8 header values, any
body bytes, over one keep-alive loopback connection (``http.client``, which re-encodes
nothing)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Probe:
    """One request of a corpus; ``target`` is the raw path and query, sent as written."""

    method: str
    target: str
    headers: dict[str, str | bytes] = field(default_factory=dict)
    """Values as ``str`` go as UTF-8; ``bytes`` go as they are (not UTF-8, say)."""
    body: bytes = b""
    case: str = ""
    """What the probe tries (shown when it fails)."""
    framing: bool = False
    """Not valid HTTP/1.1: the HTTP parser refuses it before any application code."""

    def __str__(self) -> str:
        shown = self.target if len(self.target) <= 160 else self.target[:160] + "..."
        return f"{self.case}: {self.method} {shown} ({len(self.body)} body bytes)"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.body)


class Wire:
    """A keep-alive connection to ``http://host:port`` that reconnects when the server
    closed it (as it may after refusing a request)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        self._host, self._port = parts.hostname, parts.port
        self._connection: http.client.HTTPConnection | None = None

    def send(self, probe: Probe) -> Answer:
        connection = self._connection or http.client.HTTPConnection(
            self._host, self._port, timeout=30
        )
        self._connection = connection
        try:
            connection.putrequest(
                probe.method, probe.target, skip_host=False, skip_accept_encoding=True
            )
            for name, value in probe.headers.items():
                raw = value if isinstance(value, bytes) else value.encode("utf-8")
                connection.putheader(name, raw)
            if probe.body or probe.method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(probe.body)))
            connection.endheaders(probe.body or None)
            response = connection.getresponse()
            body = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
            if response.will_close:
                self.close()
            return Answer(response.status, headers, body)
        except BaseException:
            self.close()
            raise

    def request(
        self,
        method: str,
        target: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        all_headers: dict[str, str | bytes] = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return self.send(Probe(method, target, all_headers, body))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
