"""A server that breaks the protocol gets a clear OSError, never a KeyError or a hang.

These tests need answers no faithful emulator gives (plans that do not cover the file,
sizes that disagree), so they run a tiny purpose-built HTTP server on loopback.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from atai_fs import ATAIFileSystem, AtaiFsError, ProtocolError, RetryPolicy, Timeouts

Answer = Callable[[dict[str, Any], str], Any]


class CraftedServer:
    """Answers initiate with whatever ``answer`` returns; records abort calls.
    ``routes`` adds handlers: ``{("POST", "/v0.5/files/..."): handler}``."""

    def __init__(self, answer: Answer, routes: dict[tuple[str, str], Any] | None = None) -> None:
        self.answer = answer
        self.routes = routes or {}
        self.puts: list[str] = []
        self.aborted: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v0.5/files/uploads/initiate", self._initiate)
        app.router.add_post("/v0.5/files/uploads/{upload_id}/abort", self._abort)
        app.router.add_put("/storage/{part}", self._put)
        for (method, path), handler in self.routes.items():
            app.router.add_route(method, path, handler)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _initiate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        result = self.answer(body, f"http://127.0.0.1:{self.port}/storage")
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    async def _abort(self, request: web.Request) -> web.Response:
        self.aborted.append(request.match_info["upload_id"])
        return web.Response()

    async def _put(self, request: web.Request) -> web.Response:
        self.puts.append(request.match_info["part"] + ":" + (await request.read()).decode())
        return web.Response(headers={"ETag": '"0"'})

    @property
    def storage(self) -> str:
        return f"http://127.0.0.1:{self.port}/storage"

    def __enter__(self) -> CraftedServer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def filesystem(self, **options: Any) -> ATAIFileSystem:
        settings: dict[str, Any] = {
            "retry": RetryPolicy(attempts=2, base_delay=0),
            "timeouts": Timeouts(connect=1, api=1, read=1),
        }
        settings.update(options)
        return ATAIFileSystem(
            api_key="k",
            endpoint_url=f"http://127.0.0.1:{self.port}/v0.5",
            skip_instance_cache=True,
            **settings,
        )


def plan(size: int, storage: str, parts: list[tuple[int, int, int]], **extra: Any) -> dict:
    return {
        "upload_id": "upl_crafted",
        "total_bytes": size,
        "num_parts": len(parts),
        "parts": [
            {"part_number": n, "offset": o, "length": ln, "url": f"{storage}/{n}"}
            for n, o, ln in parts
        ],
        **extra,
    }


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], CraftedServer]]:
    servers: list[CraftedServer] = []

    def start(answer: Answer, routes: dict[tuple[str, str], Any] | None = None) -> CraftedServer:
        server = CraftedServer(answer, routes).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


CASES = {
    "plan-with-a-gap": (
        lambda body, s: plan(body["num_bytes"], s, [(1, 0, 4), (2, 6, 4)]),
        "gaps or overlaps",
    ),
    "plan-too-short": (lambda body, s: plan(body["num_bytes"], s, [(1, 0, 4)]), "covers 4 of 10"),
    "total-bytes-differ": (
        lambda body, s: plan(20, s, [(1, 0, 10), (2, 10, 10)]),
        "planned an upload of 20 bytes",
    ),
    "missing-upload-id": (
        lambda body, s: {"parts": [], "total_bytes": 10},
        "lacks a valid 'upload_id'",
    ),
    "part-without-url": (
        lambda body, s: {
            "upload_id": "u",
            "parts": [{"part_number": 1, "offset": 0, "length": 10}],
        },
        "lacks a valid 'url'",
    ),
    "html-instead-of-json": (
        lambda body, s: web.Response(text="<html>maintenance</html>", content_type="text/html"),
        "expected JSON",
    ),
    "json-array-instead-of-object": (lambda body, s: [1, 2, 3], "not a JSON object"),
}


@pytest.mark.parametrize(("answer", "message"), CASES.values(), ids=CASES.keys())
def test_broken_initiate_answers_are_clear_protocol_errors(serve, answer, message):
    server = serve(answer)
    with pytest.raises(ProtocolError, match=message) as info:
        server.filesystem().pipe_file("x.bin", b"0123456789")
    assert isinstance(info.value, OSError)


def test_an_incoherent_plan_is_aborted_before_any_part_is_sent(serve):
    server = serve(lambda body, s: plan(body["num_bytes"], s, [(1, 0, 4)]))
    with pytest.raises(ProtocolError):
        server.filesystem().pipe_file("x.bin", b"0123456789")
    assert server.aborted == ["upl_crafted"]


def test_unknown_fields_are_ignored(serve):
    server = serve(
        lambda body, s: plan(10, s, [(1, 0, 10)], shiny_new_field={"x": 1}, is_resume=False)
    )
    with pytest.raises(AtaiFsError):  # complete is not served: the upload itself went fine
        server.filesystem().pipe_file("x.bin", b"0123456789")


def test_a_server_that_never_answers_times_out(serve):
    async def hang(body, storage):
        await asyncio.sleep(2.5)  # longer than the client's 1 s API timeout

    server = serve(hang)
    with pytest.raises(AtaiFsError, match="timed out"):
        server.filesystem().pipe_file("x.bin", b"0123456789")
