"""Hostile or broken answers lose nothing and stall nothing: endless or trickling
answers are bounded, URLs the server hands out later must match the plan, and only
http(s) URLs are followed, never a downgrade from https."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from typing import Any

import pytest
from aiohttp import web

from atai_fs import ATAIFileSystem, ProtocolError, RequestFailed, RetryPolicy, Timeouts
from tests.atai.test_protocol_errors import plan, serve  # noqa: F401 (the fixture)


def test_a_refreshed_url_for_other_bytes_is_refused(serve):  # noqa: F811
    async def shifted_urls(request: web.Request) -> web.Response:
        storage = f"http://127.0.0.1:{request.url.port}/storage"
        return web.json_response(
            {"parts": [{"part_number": 1, "offset": 3, "length": 7, "url": f"{storage}/1"}]}
        )

    def initiate(body: dict[str, Any], storage: str) -> dict:
        answer = plan(10, storage, [(1, 0, 10)])
        answer["parts"][0]["expires_at"] = "2000-01-01T00:00:00Z"  # refreshed before use
        return answer

    server = serve(initiate, {("POST", "/v0.5/files/uploads/{upload_id}/parts/urls"): shifted_urls})
    with pytest.raises(ProtocolError, match="changed the part plan"):
        server.filesystem().pipe_file("x.bin", b"0123456789")
    assert server.puts == []  # not one byte of another range was sent
    assert server.aborted == ["upl_crafted"]


@pytest.mark.parametrize("scheme", ["file", "ftp"])
def test_a_part_url_that_is_not_http_is_refused_at_once(serve, scheme):  # noqa: F811
    def initiate(body: dict[str, Any], storage: str) -> dict:
        answer = plan(4, storage, [(1, 0, 4)])
        answer["parts"][0]["url"] = f"{scheme}://storage.example/part?X-Amz-Signature=s3cr3t"
        return answer

    server = serve(initiate)
    fs = server.filesystem(retry=RetryPolicy(attempts=5, base_delay=0))
    with pytest.raises(ProtocolError, match="only http") as caught:
        fs.pipe_file("x.bin", b"data")
    assert "s3cr3t" not in str(caught.value)
    assert server.aborted == ["upl_crafted"]


def test_an_endless_answer_is_refused_without_growing_the_client(serve):  # noqa: F811
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"file_id": "')
        chunk = b"x" * (1 << 20)
        for _ in range(64):  # 64 MiB at most: far more than any answer
            await response.write(chunk)
        return response

    server = serve(lambda body, storage: {}, {("GET", "/v0.5/files/metadata/{name}"): endless})
    with pytest.raises(ProtocolError, match="over 8 MiB"):
        server.filesystem(retry=RetryPolicy(attempts=1)).info("x.bin")


def test_a_trickling_download_is_a_lost_answer(serve):  # noqa: F811
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        for _ in range(1000):
            await response.write(b"x")
            await asyncio.sleep(0.05)
        return response

    server = serve(lambda body, storage: {}, {("GET", "/v0.5/files/download/{name}"): trickle})
    fs = server.filesystem(
        retry=RetryPolicy(attempts=1),
        timeouts=Timeouts(connect=1, api=0.5, read=2, min_rate=1000),
    )
    started = time.monotonic()
    with pytest.raises(RequestFailed, match="trickles in"):
        fs.cat_file("slow.bin")
    assert time.monotonic() - started <= 10  # never the 50 s the trickle would take


def test_downloads_are_data_and_never_capped_like_answers(fs, emulator):
    data = bytes(range(256)) * (36 * 1024 + 1)  # over 9 MiB
    fs.pipe_file("big.bin", data)
    assert fs.cat_file("big.bin") == data


def self_signed(tmp_path) -> ssl.SSLContext:
    """A TLS context for 127.0.0.1 with a certificate made on the spot."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_plain_http_part_urls_from_an_https_api_are_refused(tmp_path):
    context = self_signed(tmp_path)
    aborted: list[str] = []

    async def initiate(request: web.Request) -> web.Response:
        body = plan(4, "http://127.0.0.2:9/storage", [(1, 0, 4)])
        return web.json_response(body)

    async def abort(request: web.Request) -> web.Response:
        aborted.append(request.match_info["upload_id"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/v0.5/files/uploads/initiate", initiate)
    app.router.add_post("/v0.5/files/uploads/{upload_id}/abort", abort)
    with _Served(app, context) as port:
        fs = ATAIFileSystem(
            api_key="k",
            endpoint_url=f"https://127.0.0.1:{port}/v0.5",
            verify_tls=False,
            retry=RetryPolicy(attempts=3, base_delay=0),
            skip_instance_cache=True,
        )
        with pytest.raises(ProtocolError, match="plain http from an https API"):
            fs.pipe_file("x.bin", b"data")
    assert aborted == ["upl_crafted"]


class _Served:
    """An aiohttp app served with TLS on 127.0.0.1 from a thread of its own."""

    def __init__(self, app: web.Application, context: ssl.SSLContext) -> None:
        self.app, self.context = app, context
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.context)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> int:
        self.thread.start()
        self.ready.wait(10)
        return self.port

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
