"""ls / info / exists come from the run status: waiting edges and uploaded ones."""

from __future__ import annotations

import time

import pytest

from atai_fs import InvalidRequest


def test_ls_lists_waiting_edges_with_their_ttl(fs, run_id):
    entries = fs.ls(f"flow://{run_id}/", detail=True)
    assert [e["name"] for e in entries] == [f"{run_id}/image-input", f"{run_id}/table-input"]
    for entry in entries:
        assert entry["status"] == "waiting"
        assert entry["type"] == "file"
        assert 3500 < entry["expires_at"] - time.time() <= 3600
        assert entry["ttl"].endswith("Z")
        assert entry["store_name"] == "uploads"


def test_ls_shows_an_uploaded_edge_as_its_artifact(fs, run_id):
    fs.pipe_file(f"flow://{run_id}/image-input", b"jpeg")
    entries = {e["name"]: e for e in fs.ls(f"flow://{run_id}", detail=True)}
    uploaded = entries[f"{run_id}/image-input"]
    assert uploaded["status"] == "uploaded"
    assert uploaded["object_name"] == f"image-input_{run_id}"
    assert entries[f"{run_id}/table-input"]["status"] == "waiting"
    assert fs.ls(f"flow://{run_id}/", detail=False) == sorted(entries)


def test_exists_only_once_uploaded(fs, run_id):
    path = f"flow://{run_id}/image-input"
    assert not fs.exists(path)
    fs.pipe_file(path, b"jpeg")
    assert fs.exists(path)
    assert fs.exists(f"flow://{run_id}")


def test_info_of_a_waiting_edge_and_of_the_run(fs, run_id):
    assert fs.info(f"flow://{run_id}/table-input")["status"] == "waiting"
    assert fs.info(f"flow://{run_id}")["type"] == "directory"
    assert fs.info(f"flow://{run_id}")["run_status"] == "WAITING"


def test_unknown_edge_and_unknown_run_do_not_exist(fs, run_id):
    assert not fs.exists(f"flow://{run_id}/no-such-edge")
    assert not fs.exists("flow://0194c3a2-0000-7000-8000-000000000000/image-input")
    with pytest.raises(FileNotFoundError, match="no-such-edge"):
        fs.info(f"flow://{run_id}/no-such-edge")


def test_listing_every_run_is_refused_clearly(fs):
    with pytest.raises(InvalidRequest, match="cannot list runs"):
        fs.ls("flow://")


def test_reading_an_edge_is_refused_clearly(fs, run_id):
    with pytest.raises(InvalidRequest, match="cannot be read"):
        fs.open(f"flow://{run_id}/image-input", "rb")
