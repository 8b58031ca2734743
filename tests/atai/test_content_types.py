"""A file's declared type is the type of the bytes sent: compressed names and
compression wrappers are declared as their compression, never as what they hold."""

from __future__ import annotations

import gzip
import io

import fsspec
import pandas as pd
import pytest

from atai_fs import UnsupportedFormat
from tests.conftest import download


def routes(emulator) -> dict[str, int]:
    return dict(emulator.stats.requests_by_route)


def test_a_gzipped_csv_name_is_declared_gzip_and_skips_the_plain_csv_route(fs, emulator):
    frame = pd.DataFrame({"x": range(50)})
    frame.to_csv(
        "atai://t/x.csv.gz",
        index=False,
        storage_options={"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url},
    )
    assert fs.info("t/x.csv.gz")["file_type"] == "application/gzip"
    assert routes(emulator).get("simple_upload", 0) == 0
    assert pd.read_csv(io.BytesIO(gzip.decompress(download(emulator, "t/x.csv.gz")))).equals(frame)


@pytest.mark.parametrize(
    "name,declared",
    [
        ("a.json.bz2", "application/x-bzip2"),
        ("a.parquet.xz", "application/x-xz"),
        ("a.jsonl.zst", "application/zstd"),
        ("a.tar.gz", "application/gzip"),
        ("a.csv", "text/csv"),
    ],
)
def test_compressed_names_are_declared_as_their_compression(fs, name, declared):
    fs.pipe_file(name, b"bytes")
    assert fs.info(name)["file_type"] == declared


def test_a_compression_wrapper_declares_what_it_writes(fs, emulator):
    with fs.open("wrapped.csv", "wb", compression="gzip") as f:
        f.write(b"a,b\n1,2\n")
    assert fs.info("wrapped.csv")["file_type"] == "application/gzip"
    assert gzip.decompress(download(emulator, "wrapped.csv")) == b"a,b\n1,2\n"
    assert routes(emulator).get("simple_upload", 0) == 0


def test_an_explicit_type_wins_over_the_guess(fs):
    with fs.open("wrapped.bin", "wb", compression="gzip", file_type="text/csv+gzip") as f:
        f.write(b"x")
    assert fs.info("wrapped.bin")["file_type"] == "text/csv+gzip"


def test_aionvision_refuses_compressed_bytes_under_a_plain_name(tmp_path):
    from atai_fs.emulator.aionvision import AionVisionEmulator
    from tests.aionvision.conftest import make_fs

    with AionVisionEmulator(data_dir=tmp_path) as emulator:
        fs = make_fs(emulator)
        with pytest.raises(UnsupportedFormat, match="uncompressed"):
            fs.open("aionvision://notes.txt", "wb", compression="gzip")


def test_fsspec_open_s_own_compression_wrapper_is_seen_in_the_bytes(emulator):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    with fsspec.open("atai://outer.csv", "wb", compression="gzip", **options) as f:
        f.write(b"a,b\n1,2\n")
    fs = fsspec.filesystem("atai", skip_instance_cache=True, **options)
    assert fs.info("outer.csv")["file_type"] == "application/gzip"
    assert gzip.decompress(download(emulator, "outer.csv")) == b"a,b\n1,2\n"
    assert routes(emulator).get("simple_upload", 0) == 0


def test_pandas_compression_under_a_plain_name_is_declared_as_it_is(fs, emulator):
    frame = pd.DataFrame({"x": range(10)})
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame.to_csv("atai://plain.csv", compression="bz2", index=False, storage_options=options)
    assert fs.info("plain.csv")["file_type"] == "application/x-bzip2"


def test_text_that_only_looks_compressed_keeps_its_type(fs):
    fs.pipe_file("notes.txt", b"BZh, as in the letters, is not bzip2\n")
    assert fs.info("notes.txt")["file_type"] == "text/plain"
