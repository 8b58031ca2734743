"""The raw ceiling: initiate, part PUTs straight from the file, complete.

``in_flight`` PUTs at once (8 unless the scenario sets enough to fill its link).

No retries, no checksums, no checkpoints, no progress: the least a correct client must
do, so the gap to it is what a client's bookkeeping costs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from .measure import Outcome, Stopwatch

_IN_FLIGHT = 8
_CHUNK = 1 << 20


async def _body(fd: int, offset: int, length: int) -> AsyncIterator[bytes]:
    end = offset + length
    while offset < end:
        data = os.pread(fd, min(_CHUNK, end - offset), offset)
        offset += len(data)
        yield data


async def _upload(params: dict[str, Any]) -> None:
    path, api = params["path"], params["endpoint_url"]
    auth = {"Authorization": f"Bearer {params['api_key']}"}
    size = os.path.getsize(path)
    in_flight = params.get("in_flight", _IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    async with aiohttp.ClientSession(connector=connector) as session:
        initiate = {"filename": params["name"], "file_type": "text/csv", "num_bytes": size}
        async with session.post(f"{api}/files/uploads/initiate", json=initiate, headers=auth) as r:
            r.raise_for_status()
            plan = await r.json()
        todo = iter(plan["parts"])
        tokens: list[dict[str, Any]] = []
        fd = os.open(path, os.O_RDONLY)

        async def worker() -> None:
            for part in todo:  # shared iterator: each part goes to one worker
                body = _body(fd, part["offset"], part["length"])
                headers = {"Content-Length": str(part["length"])}
                async with session.put(part["url"], data=body, headers=headers) as r:
                    r.raise_for_status()
                    tokens.append(
                        {"part_number": part["part_number"], "part_token": r.headers["ETag"]}
                    )

        try:
            await asyncio.gather(*(worker() for _ in range(in_flight)))
        finally:
            os.close(fd)
        url = f"{api}/files/uploads/{plan['upload_id']}/complete"
        async with session.post(url, json={"parts": tokens}, headers=auth) as r:
            r.raise_for_status()


def put_file(params: dict[str, Any], stopwatch: Stopwatch) -> Outcome:
    outcome = Outcome(bytes=os.path.getsize(params["path"]))
    with stopwatch:
        try:
            asyncio.run(_upload(params))
        except Exception as exc:
            outcome.failed(exc)
    return outcome
