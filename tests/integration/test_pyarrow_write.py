"""pyarrow datasets write into and read from atai:// with ``filesystem=fs``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import BOTH_PROFILES, stored_names

pytestmark = BOTH_PROFILES


@pytest.fixture
def table() -> pa.Table:
    n = 30_000
    return pa.table(
        {
            "step": pa.array(range(n), pa.int64()),
            "loss": pa.array([i / 3 for i in range(n)]),
            "label": pa.array(["cat", "dog", "bird"] * (n // 3)),
        }
    )


def sorted_by_step(table: pa.Table) -> pa.Table:
    return table.sort_by("step").select(["step", "loss", "label"])


def test_write_to_dataset_partitioned_round_trips(fs, emulator, table):
    pq.write_to_dataset(table, "arrow/runs", filesystem=fs, partition_cols=["label"])
    names = stored_names(emulator)
    assert {name.split("/")[2] for name in names} == {"label=bird", "label=cat", "label=dog"}
    back = pq.read_table("arrow/runs", filesystem=fs)
    back = back.set_column(
        back.schema.get_field_index("label"), "label", back["label"].cast(pa.string())
    )
    assert sorted_by_step(back).equals(table)


def test_write_dataset_with_several_files_round_trips(fs, emulator, table):
    ds.write_dataset(
        table,
        "arrow/flat",
        format="parquet",
        filesystem=fs,
        max_rows_per_file=10_000,
        max_rows_per_group=10_000,
    )
    assert len([n for n in stored_names(emulator) if n.startswith("arrow/flat/")]) == 3
    back = ds.dataset("arrow/flat", format="parquet", filesystem=fs).to_table()
    assert sorted_by_step(back).equals(table)


def test_write_table_to_a_url_round_trips(fs, table):
    pq.write_table(table, "arrow/one.parquet", filesystem=fs)
    assert pq.read_table("arrow/one.parquet", filesystem=fs).equals(table)
