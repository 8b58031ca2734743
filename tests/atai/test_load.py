"""Many concurrent uploads through one filesystem stay bounded in PUTs, connections, memory."""

from __future__ import annotations

import os

from tests.conftest import PART_SIZE, download


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_200_concurrent_uploads_complete_with_bounded_resources(fs, emulator, tmp_path):
    files = {}
    for index in range(200):
        path = tmp_path / f"item-{index:03}.bin"
        path.write_bytes(os.urandom(2 * PART_SIZE + index))
        files[path.name] = path
    before = rss_mib()
    fs.put([str(p) for p in files.values()], "atai://load/", batch_size=200)
    grown = rss_mib() - before
    assert len(fs.ls("atai://load/")) == 200
    for name in ("item-000.bin", "item-199.bin"):
        assert download(emulator, f"load/{name}") == files[name].read_bytes()
    assert emulator.stats.max_puts_in_flight <= fs.transfer.max_concurrency
    session = next(iter(fs.http._sessions.values()))
    assert session.connector.limit == fs.transfer.max_concurrency + 4
    assert emulator.orphans() == []
    assert grown < 100
