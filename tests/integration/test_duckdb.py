"""DuckDB writes into and reads from atai:// through ``register_filesystem``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timezone

import pandas as pd
import pytest

from tests.conftest import BOTH_PROFILES, download

pytestmark = BOTH_PROFILES

duckdb = pytest.importorskip("duckdb")


@pytest.fixture
def con(fs) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.register_filesystem(fs)
    yield connection
    connection.close()


def test_copy_to_parquet_round_trips(con, emulator):
    con.execute(
        "COPY (SELECT range AS step, range * 0.5 AS loss FROM range(100000)) "
        "TO 'atai://duck/steps.parquet' (FORMAT parquet)"
    )
    rows = con.execute(
        "SELECT count(*), sum(step), sum(loss) FROM read_parquet('atai://duck/steps.parquet')"
    ).fetchone()
    assert rows == (100_000, 4_999_950_000, 2_499_975_000.0)
    back = pd.read_parquet(io.BytesIO(download(emulator, "duck/steps.parquet")))
    assert len(back) == 100_000


def test_copy_to_csv_round_trips(con, emulator):
    con.execute(
        "COPY (SELECT range AS id, 'row ' || range AS label FROM range(1000)) "
        "TO 'atai://duck/labels.csv' (HEADER, DELIMITER ',')"
    )
    rows = con.execute(
        "SELECT count(*), max(label) FROM read_csv('atai://duck/labels.csv')"
    ).fetchone()
    assert rows == (1000, "row 999")
    assert download(emulator, "duck/labels.csv").startswith(b"id,label\n0,row 0\n")


def test_glob_reads_every_file_under_a_prefix(con):
    for part in range(3):
        con.execute(
            f"COPY (SELECT {part} AS part, range AS i FROM range(10)) "
            f"TO 'atai://duck/parts/{part}.parquet' (FORMAT parquet)"
        )
    rows = con.execute(
        "SELECT count(*), count(DISTINCT part) FROM read_parquet('atai://duck/parts/*.parquet')"
    ).fetchone()
    assert rows == (30, 3)


def test_an_overwritten_file_reads_back_new(con, fs):
    """The API has no modification time (``modified`` is constant); reads stay fresh."""
    for value in ("first", "other"):  # same size, so only the content differs
        con.execute(f"COPY (SELECT '{value}' AS v FROM range(1000)) TO 'atai://duck/v.parquet'")
        assert con.execute("SELECT DISTINCT v FROM 'atai://duck/v.parquet'").fetchall() == [
            (value,)
        ]


def test_modified_is_the_epoch_since_the_api_records_no_time(fs):
    """DuckDB asks every file's modification time; the API has none to give."""
    fs.pipe_file("duck/a.bin", b"x")
    assert fs.modified("duck/a.bin") == datetime(1970, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(FileNotFoundError):
        fs.modified("duck/missing.bin")
    with pytest.raises(IsADirectoryError):
        fs.modified("duck")
