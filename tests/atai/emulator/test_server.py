"""Running the emulator: thread lifecycle, temporary data_dir, stats, in-process app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import aiohttp
import pytest
import requests
from aiohttp import web

from atai_fs.emulator import ATAIEmulator, EmulatorConfig, build_app


def test_context_manager_serves_then_stops_and_removes_temporary_dir():
    with ATAIEmulator() as emulator:
        assert emulator.endpoint_url.startswith("http://127.0.0.1:")
        assert emulator.endpoint_url.endswith("/v0.5")
        data_dir = emulator.data_dir
        assert data_dir.is_dir()
    assert not data_dir.exists()
    with pytest.raises(RuntimeError):
        _ = emulator.endpoint_url


def test_given_data_dir_is_kept(tmp_path):
    with ATAIEmulator(data_dir=tmp_path / "keep") as emulator:
        assert emulator.data_dir == tmp_path / "keep"
    assert (tmp_path / "keep" / "blobs").is_dir()


@pytest.mark.parametrize(
    "options",
    [{"part_number_base": 2}, {"part_size": 0}, {"integrity_algorithm": "md5"}, {"api_key": ""}],
)
def test_bad_options_fail_at_construction(options):
    with pytest.raises(ValueError):
        ATAIEmulator(**options)


def test_port_in_use_fails_at_start():
    with ATAIEmulator() as emulator:
        other = ATAIEmulator(port=int(emulator.endpoint_url.split(":")[2].split("/")[0]))
        with pytest.raises(OSError):
            other.start()


async def test_stats_count_routes_and_reset(emulator, open_api):
    async with open_api() as api:
        await api.upload("count.csv", b"12345")
        await api.ok("GET", "files/info")
        await api.call("GET", "files/info", auth=False)
    by_route = emulator.stats.requests_by_route
    assert by_route == {"initiate": 1, "storage_put": 1, "complete": 1, "info": 2}
    assert emulator.stats.api_requests == 4  # storage PUTs are not API requests
    assert (emulator.stats.part_puts, emulator.stats.bytes_received) == (1, 5)
    emulator.stats.reset()
    assert emulator.stats.snapshot() == {
        "api_requests": 0,
        "requests_by_route": {},
        "part_puts": 0,
        "puts_in_flight": 0,
        "max_puts_in_flight": 0,
        "bytes_received": 0,
        "bytes_served": 0,
        "rate_limited": 0,
        "checksums_verified": 0,
        "files_published": 0,
    }


async def test_build_app_runs_in_the_callers_event_loop(tmp_path):
    config = EmulatorConfig(data_dir=tmp_path, api_key="k")
    runner = web.AppRunner(build_app(config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/v0.5/files/info"
            async with session.get(url, headers={"Authorization": "Bearer k"}) as r:
                assert r.status == 200
                assert (await r.json())["num_files"] == 0
    finally:
        await runner.cleanup()


def test_serve_prints_the_endpoint_and_stops_on_ctrl_c(tmp_path):
    code = (
        "from atai_fs.emulator import serve; "
        f"serve(port=0, data_dir={str(tmp_path)!r}, api_key='cli-key', part_size=1024)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        line = proc.stdout.readline()
        endpoint = line.split(" on ")[1].split()[0]
        assert endpoint.startswith("http://127.0.0.1:") and endpoint.endswith("/v0.5")
        r = requests.get(f"{endpoint}/files/info", headers={"Authorization": "Bearer cli-key"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


async def test_orphans_are_the_uploads_left_in_progress(emulator, open_api):
    async with open_api() as api:
        await api.upload("done.csv", b"done")
        aborted = await api.initiate("aborted.csv", 5)
        await api.ok("POST", f"files/uploads/{aborted['upload_id']}/abort")
        left = await api.initiate("left.csv", 5)
    assert [view.upload_id for view in emulator.orphans()] == [left["upload_id"]]
    assert emulator.orphans()[0].filename == "left.csv"


@pytest.mark.parametrize(
    "options",
    [
        {"max_page_size": 0},
        {"latency": -1},
        {"put_bandwidth": 0},
        {"link_bandwidth": -5},
        {"rate_limit_per_minute": 0},
        {"faults": ["route=initiate,action=wrong_etag"]},
    ],
)
def test_bad_new_options_fail_at_construction(options):
    with pytest.raises(ValueError):
        ATAIEmulator(**options)
