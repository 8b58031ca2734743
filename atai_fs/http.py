"""The one place that sends HTTP: sessions, timeouts, auth scoping, transport errors.

Every request of every target goes through :class:`HttpClient`, which is what makes the
security rules enforceable in one spot:

* the API key is attached only to requests whose origin is the API's own origin, never
  to presigned storage URLs or other hosts;
* transport failures become :class:`~atai_fs.errors.RequestFailed` with redacted text
  (aiohttp's own messages can contain a presigned URL and its signature);
* every request has a timeout.

One aiohttp session exists per client and event loop, with a connection pool sized to
the configured concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from .errors import (
    ConfigurationError,
    ConnectError,
    ProtocolError,
    RequestFailed,
    ResponseLost,
    TransportError,
)
from .redact import redact_text, redact_url

__all__ = [
    "HttpClient",
    "HttpResponse",
    "Timeouts",
    "check_endpoint",
    "is_loopback_host",
    "transport_errors",
]

log = logging.getLogger("atai_fs")

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a hostname or IP literal, brackets allowed) is this machine."""
    return (host or "").lower() in _LOOPBACK_HOSTS


@contextlib.contextmanager
def transport_errors(method: str, url: str, secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """The one mapping of aiohttp's transport failures onto ours, split by phase.

    A failure to connect (DNS, refused, TLS handshake, connect timeout) means the request
    was never sent: :class:`~atai_fs.errors.ConnectError`.  Anything later (a reset, a
    disconnect, a read timeout, a truncated body) means it may have reached the server
    and only its answer was lost: :class:`~atai_fs.errors.ResponseLost`.  Both are
    retryable; callers of calls that are not idempotent decide from
    ``may_have_landed`` whether sending again is safe.  A URL aiohttp cannot send to at
    all (not http or https) is a :class:`~atai_fs.errors.ProtocolError`, never retried.
    Messages are redacted: aiohttp's own can contain a presigned URL and its signature.
    """
    try:
        yield
    except aiohttp.InvalidURL as exc:
        raise ProtocolError(
            f"{method} {redact_url(url)}: not a URL this client can send to ({type(exc).__name__})"
        ) from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise transport_error(method, url, exc, secrets) from None


def transport_error(
    method: str, url: str, exc: BaseException, secrets: Iterable[str | None] = ()
) -> TransportError:
    """The error for one transport failure (see :func:`transport_errors`)."""
    kind = type(exc).__name__
    never_sent = isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        detail = "timed out"
    else:
        detail = redact_text(str(exc), secrets) if str(exc) else kind
    cls = ConnectError if never_sent else ResponseLost
    phase = "could not connect" if never_sent else "got no complete answer"
    retryable = not isinstance(exc, aiohttp.ClientConnectorCertificateError)
    return cls(
        f"{method} {redact_url(url)} {phase} ({kind}: {detail}); check the network and "
        "the endpoint URL",
        retryable=retryable,
    )


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed per phase of a request.

    ``api`` bounds a whole control-plane call; ``connect`` bounds connection set-up;
    ``read`` bounds the wait for any data on a transfer (a part PUT or a download may
    run for minutes, but a silent socket for this long is dead); ``min_rate`` bounds a
    transfer in total (its bytes at that rate, plus ``api`` seconds).
    """

    connect: float = 30.0
    api: float = 120.0
    read: float = 300.0
    #: Bytes per second a transfer may not stay below, past ``api`` seconds of grace: a
    #: server trickling an answer a byte at a time never trips ``read``, and is dead.
    min_rate: float = 16 * 1024

    @classmethod
    def from_number(cls, seconds: float) -> Timeouts:
        """The same bound for every phase (``timeouts=30``)."""
        return cls(connect=float(seconds), api=float(seconds), read=float(seconds))

    def transfer_bound(self, length: int) -> float:
        """The longest a transfer of ``length`` bytes may take in all."""
        return self.api + length / self.min_rate


@dataclass(frozen=True)
class HttpResponse:
    """A finished response whose (small) body was read in full."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self, *, retryable: bool | None = None) -> Any:
        """Parse the body as JSON, or raise :class:`ProtocolError` saying what came instead
        (retryable for a 5xx answer, or where the caller knows a retry is safe)."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            snippet = redact_text(self.text[:200])
            raise ProtocolError(
                f"expected JSON from the server, got {len(self.body)} bytes starting with "
                f"{snippet!r} (HTTP {self.status})",
                status=self.status,
                retryable=self.status >= 500 if retryable is None else retryable,
            ) from None


def check_endpoint(url: str, *, allow_http: bool = False, carries: str = "the API key") -> str:
    """Validate an API base URL: absolute http(s), TLS unless loopback or opted out.

    ``carries`` says what plain http would expose (the key, or presigned URLs in answers).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"endpoint_url {redact_url(url)!r} is not an absolute http(s) URL; pass "
            "something like 'https://api.u1.archetypeai.app/v0.5'"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname) and not allow_http:
        raise ConfigurationError(
            f"endpoint_url {redact_url(url)!r} uses plain http to a non-loopback host, which "
            f"would send {carries} unencrypted; use https, or pass allow_http=True if you "
            "really mean it"
        )
    return url.rstrip("/")


#: The largest answer read whole (JSON of the APIs, error bodies): a few MiB at most.
MAX_ANSWER_BYTES = 8 << 20


async def _read_capped(response: aiohttp.ClientResponse, method: str, url: str) -> bytes:
    """The body of an answer that is read whole, refusing one larger than
    :data:`MAX_ANSWER_BYTES` (an endless answer must not grow the client without end)."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise _too_large(method, url)
    pieces, size = [], 0
    while chunk := await response.content.read(1 << 16):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _too_large(method, url)
        pieces.append(chunk)
    return b"".join(pieces)


def _too_large(method: str, url: str) -> ProtocolError:
    return ProtocolError(
        f"{method} {redact_url(url)}: the answer is over {MAX_ANSWER_BYTES >> 20} MiB, more "
        "than any answer of the API; refusing to read it"
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class HttpClient:
    """Sends requests for one filesystem; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        api_base: str,
        api_key: str | None,
        pool_size: int,
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        allow_http: bool = False,
    ) -> None:
        """``allow_http`` permits plain-http storage URLs (and redirects) while the API is
        https; by default such a downgrade is refused."""
        self.api_base = api_base.rstrip("/")
        self._api_origin = _origin(self.api_base)
        self._api_path = urlsplit(self.api_base).path.rstrip("/") + "/"
        self._api_key = api_key
        self.pool_size = pool_size
        self.timeouts = timeouts or Timeouts()
        self.verify_tls = verify_tls
        self.allow_http = allow_http
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"HttpClient(api_base={self.api_base!r}, pool_size={self.pool_size})"

    # -- sessions --------------------------------------------------------------------

    def session(self) -> aiohttp.ClientSession:
        """The session of the running event loop, created on first use."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.pool_size,
                limit_per_host=0,
                ssl=self.verify_tls,
                enable_cleanup_closed=False,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeouts.connect),
                auto_decompress=False,
                # aiohttp would otherwise add Accept-Encoding and a User-Agent to storage
                # PUTs; presigned URLs only sign what they were made for.
                skip_auto_headers=("Accept-Encoding",),
            )
            self._sessions[loop] = session
        return session

    async def close(self) -> None:
        """Close the session of the running loop (others close with their loops)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        if session is not None and not session.closed:
            await session.close()

    def close_all_sync(self) -> None:
        """Best-effort close of every session, for finalizers (never raises)."""
        for loop, session in list(self._sessions.items()):
            if session.closed:
                continue
            try:
                if loop.is_running() and not loop.is_closed():
                    asyncio.run_coroutine_threadsafe(session.close(), loop)
                elif not loop.is_closed():
                    connector = session.connector
                    if connector is not None:
                        connector._close()  # no loop to await on: drop the sockets
            except Exception:  # finalizers must not raise
                pass
        self._sessions.clear()

    # -- requests --------------------------------------------------------------------

    def is_api_url(self, url: str) -> bool:
        """Whether ``url`` lies under the API base (same origin and path prefix), the only
        place the key may go.  Storage URLs can share the API's host, not its path."""
        return _origin(url) == self._api_origin and urlsplit(url).path.startswith(self._api_path)

    def api_url(self, path: str) -> str:
        """Join the API base and a path that is already URL-encoded."""
        return f"{self.api_base}/{path.lstrip('/')}"

    def _headers_for(
        self, url: str, extra: Mapping[str, str] | None, *, authorize: bool
    ) -> dict[str, str]:
        headers = dict(extra or {})
        if authorize and self._api_key and self.is_api_url(url):
            headers["Authorization"] = f"Bearer {self._api_key}"
        else:
            headers.pop("Authorization", None)
        return headers

    def redact(self, text: str, also: Iterable[str | None] = ()) -> str:
        """Redact the API key, bearer tokens, URL query values and ``also`` (e.g. a
        signature a storage error echoes) from ``text``."""
        return redact_text(text, (self._api_key, *also))

    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        authorize: bool = True,
    ) -> HttpResponse:
        """Send one request and read the whole (small) response body.

        Transport failures raise a retryable :class:`RequestFailed`; HTTP error statuses
        are returned, not raised, since only the target knows its error format.
        """
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=self.timeouts.api, connect=self.timeouts.connect)
        self._check_url(method, url)
        request_headers = self._headers_for(url, headers, authorize=authorize)
        with self._transport_errors(method, url):
            async with self.session().request(
                method,
                url,
                json=json,
                params=params,
                data=data,
                headers=request_headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                body = await _read_capped(response, method, url)
                log.debug("%s %s -> %d", method, redact_url(url), response.status)
                return HttpResponse(response.status, response.headers, body)

    async def put_body(
        self, url: str, body: Any, *, length: int, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """PUT a streamed body of exactly ``length`` bytes (never chunked encoding) to a
        presigned URL, which carries its own authority: never with the API key."""
        request_headers = {"Content-Length": str(length), **(headers or {})}
        timeout = aiohttp.ClientTimeout(
            total=self.timeouts.transfer_bound(length),
            connect=self.timeouts.connect,
            sock_read=self.timeouts.read,
        )
        return await self.send(
            "PUT", url, data=body, headers=request_headers, timeout=timeout, authorize=False
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_redirects: int = 5,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a response whose body the caller streams (downloads).

        Redirects are followed here, not by aiohttp, so that each hop gets its own auth
        decision: a download redirected to a presigned storage URL on another host (or
        outside the API path) never carries the API key.
        """
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeouts.connect, sock_read=self.timeouts.read
        )
        for _ in range(max_redirects + 1):
            self._check_url(method, url)
            with self._transport_errors(method, url):
                response = await self.session().request(
                    method,
                    url,
                    headers=self._headers_for(url, headers, authorize=True),
                    timeout=timeout,
                    allow_redirects=False,
                )
            log.debug("%s %s -> %d", method, redact_url(url), response.status)
            location = response.headers.get("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                response.release()
                url = urljoin(url, location)
                continue
            try:
                yield response
            finally:
                response.release()
            return
        raise RequestFailed(f"{method} {redact_url(url)}: more than {max_redirects} redirects")

    async def read_answer(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole (small) body of a streamed response that is an answer, not data (an
        error body), capped like every answer; transport errors made retryable."""
        with self._transport_errors(response.method, str(response.url)):
            return await _read_capped(response, response.method, str(response.url))

    async def read_body(self, response: aiohttp.ClientResponse, chunk_size: int) -> bytes:
        """The whole body of a streamed download (data: no cap, but the rate floor)."""
        return b"".join([chunk async for chunk in self.iter_body(response, chunk_size)])

    async def iter_body(
        self, response: aiohttp.ClientResponse, chunk_size: int
    ) -> AsyncIterator[bytes]:
        """The body of a streamed response in chunks, transport errors made retryable; an
        answer trickling in below ``min_rate`` (past the grace) is a lost one."""
        loop = asyncio.get_running_loop()
        started, received = loop.time(), 0
        timeouts = self.timeouts
        with self._transport_errors(response.method, str(response.url)):
            async for chunk in response.content.iter_chunked(chunk_size):
                received += len(chunk)
                elapsed = loop.time() - started
                if (
                    elapsed > timeouts.api
                    and received < (elapsed - timeouts.api) * timeouts.min_rate
                ):
                    raise ResponseLost(
                        f"{response.method} {redact_url(str(response.url))}: the answer "
                        f"trickles in at {received / elapsed:.0f} B/s, under the "
                        f"{timeouts.min_rate:.0f} B/s a live transfer keeps (Timeouts.min_rate)"
                    )
                yield chunk

    def _check_url(self, method: str, url: str) -> None:
        """Only http(s), and no downgrade to plain http from an https API unless allowed
        (a presigned URL is a credential until it expires)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ProtocolError(
                f"{method} {redact_url(url)}: the server handed out a {parts.scheme or 'relative'}"
                " URL; only http(s) URLs are followed"
            )
        downgrade = parts.scheme == "http" and self.api_base.startswith("https:")
        if downgrade and not self.allow_http and not is_loopback_host(parts.hostname):
            raise ProtocolError(
                f"{method} {redact_url(url)}: plain http from an https API would expose the "
                "URL's signature on the way; pass allow_http=True if that network is trusted"
            )

    def _transport_errors(self, method: str, url: str) -> contextlib.AbstractContextManager[None]:
        return transport_errors(method, url, (self._api_key,))
