"""Fixtures for the emulator tests: running emulators and a small aiohttp API client.

``async def`` tests run on a fresh event loop each (no pytest-asyncio needed); the
emulator runs in its own thread, so tests talk to it over real loopback HTTP.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from atai_fs.emulator import ATAIEmulator
from tests.sizes import PART_SIZE as PART


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None


@pytest.fixture
def make_emulator(tmp_path: Any) -> Iterator[Callable[..., ATAIEmulator]]:
    """Start emulators with custom options; all are stopped at teardown."""
    started: list[ATAIEmulator] = []

    def make(**options: Any) -> ATAIEmulator:
        options.setdefault("part_size", PART)
        emulator = ATAIEmulator(**options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., ATAIEmulator]) -> ATAIEmulator:
    return make_emulator()


class Api:
    """Thin client for the emulated API: raw statuses and bodies, no retries, no magic."""

    def __init__(self, emulator: ATAIEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session
        self.auth = {"Authorization": f"Bearer {emulator.api_key}"}

    @staticmethod
    def encoded(name: str) -> str:
        """A file name as one URL path segment (``/`` becomes ``%2F``)."""
        return quote(name, safe="")

    @staticmethod
    def codes(body: Any) -> list[str]:
        """The ``code`` of every error in an error envelope."""
        return [e["code"] for e in body["errors"]]

    def url(self, path: str) -> URL:
        """``path`` is relative to the endpoint and already percent-encoded."""
        return URL(f"{self.emulator.endpoint_url}/{path}", encoded=True)

    async def call(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {**(self.auth if auth else {}), **kwargs.pop("headers", {})}
        async with self.session.request(method, self.url(path), headers=headers, **kwargs) as r:
            raw = await r.read()
            is_json = r.content_type == "application/json" and raw
            return r.status, (await r.json() if is_json else raw)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, (status, body)
        return body

    async def initiate(
        self, filename: str, num_bytes: int, file_type: str = "text/csv", **extra: Any
    ) -> dict[str, Any]:
        body = {"filename": filename, "file_type": file_type, "num_bytes": num_bytes, **extra}
        return await self.ok("POST", "files/uploads/initiate", json=body)

    async def put(self, url: str, data: bytes, **kwargs: Any) -> aiohttp.ClientResponse:
        """A storage PUT exactly like a well-behaved client: body and Content-Length only."""
        async with self.session.put(URL(url, encoded=True), data=data, **kwargs) as r:
            await r.read()
            return r

    async def put_part(self, part: dict[str, Any], data: bytes) -> dict[str, Any]:
        """PUT the part's slice of ``data``; return its ``{part_number, part_token}``."""
        chunk = data[part["offset"] : part["offset"] + part["length"]]
        r = await self.put(part["url"], chunk)
        assert r.status == 200, r.status
        return {"part_number": part["part_number"], "part_token": r.headers["ETag"]}

    async def complete(self, upload_id: str, parts: list[dict[str, Any]], **extra: Any) -> Any:
        return await self.call(
            "POST", f"files/uploads/{upload_id}/complete", json={"parts": parts, **extra}
        )

    async def upload(self, filename: str, data: bytes, file_type: str = "text/csv") -> Any:
        """The whole direct-to-cloud flow; returns the complete response body."""
        init = await self.initiate(filename, len(data), file_type)
        tokens = [await self.put_part(p, data) for p in init["parts"]]
        status, body = await self.complete(init["upload_id"], tokens)
        assert status == 200, body
        return body

    async def download(self, file_id: str, **kwargs: Any) -> bytes:
        return await self.ok("GET", f"files/download/{self.encoded(file_id)}", **kwargs)


@pytest.fixture
def open_api(emulator: ATAIEmulator) -> Callable[..., AbstractAsyncContextManager[Api]]:
    """``async with open_api() as api`` (or ``open_api(other_emu)``) inside a test."""

    @asynccontextmanager
    async def open_(target: ATAIEmulator | None = None) -> AsyncIterator[Api]:
        async with aiohttp.ClientSession() as session:
            yield Api(target or emulator, session)

    return open_
