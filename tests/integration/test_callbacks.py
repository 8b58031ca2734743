"""Progress callbacks (fsspec's ``callback=``, e.g. ``TqdmCallback``) report exact bytes.

Every write mode sets the total first and ends at the file's size; a resumed upload
starts from the bytes the server already holds (heard with the size, before any part it
sends now).  Bytes are reported as they are sent, so a large part moves the bar before
it finishes; a retried part never makes the total pass the size.
"""

from __future__ import annotations

import io
import os

import pytest
from fsspec.callbacks import Callback, TqdmCallback

from atai_fs import ConfigurationError, UploadFailed
from tests.atai.test_resume import fail_put_file_midway, impatient
from tests.conftest import PART_SIZE, download, make_fs
from tests.sizes import SIZES


class Recorder(Callback):
    """Keeps every (size, value) the callback was told, and the callbacks it branched."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[int | None, int]] = []
        self.children: dict[str, Recorder] = {}

    def call(self, *args, **kwargs) -> None:
        self.history.append((self.size, self.value))

    def branched(self, path_1, path_2, **kwargs) -> Recorder:
        child = self.children[os.path.basename(str(path_1))] = Recorder()
        return child

    @property
    def values(self) -> list[int]:
        return [value for _, value in self.history]


def assert_reports_exactly(recorder: Recorder, size: int) -> None:
    """Total announced before any progress, progress never goes back, ends at ``size``."""
    assert recorder.history, "the callback was never called"
    assert recorder.history[0] == (size, 0)
    assert recorder.values == sorted(recorder.values)
    assert (recorder.size, recorder.value) == (size, size)


@pytest.fixture
def local_bytes(tmp_path):
    def write(name: str, size: int) -> tuple[str, bytes]:
        data = os.urandom(size)
        path = tmp_path / name
        path.write_bytes(data)
        return str(path), data

    return write


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_resumable_put_file_reports_every_byte(fs, emulator, local_bytes, size):
    path, data = local_bytes("data.bin", size)
    recorder = Recorder()
    fs.put_file(path, "data.bin", callback=recorder)
    assert_reports_exactly(recorder, size)
    assert download(emulator, "data.bin") == data


@pytest.mark.parametrize("size", [1, 5 * PART_SIZE + 7])
def test_non_resumable_put_file_reports_every_byte(fs, local_bytes, size):
    path, _ = local_bytes("data.bin", size)
    recorder = Recorder()
    fs.put_file(path, "data.bin", resume=False, callback=recorder)
    assert_reports_exactly(recorder, size)


def test_put_file_in_one_request_reports_every_byte(fs, emulator, local_bytes):
    path, data = local_bytes("table.csv", 3 * PART_SIZE)
    emulator.stats.reset()
    recorder = Recorder()
    fs.put_file(path, "table.csv", callback=recorder)
    assert emulator.stats.requests_by_route["simple_upload"] == 1
    assert_reports_exactly(recorder, len(data))


@pytest.mark.parametrize("name", ["blob.bin", "small.json"])
def test_pipe_file_reports_every_byte(fs, name):
    data = os.urandom(3 * PART_SIZE + 5)
    recorder = Recorder()
    fs.pipe_file(name, data, callback=recorder)
    assert_reports_exactly(recorder, len(data))


def test_resumed_put_file_starts_from_the_bytes_already_uploaded(emulator, tmp_path):
    local_file = tmp_path / "dataset.bin"
    local_file.write_bytes(os.urandom(40 * PART_SIZE - 123))
    size = local_file.stat().st_size
    upload_id = fail_put_file_midway(emulator, local_file)
    already = len(emulator.uploads[upload_id].checkpointed_parts) * PART_SIZE
    assert already > 0

    recorder = Recorder()
    impatient(emulator).put_file(str(local_file), "dataset.bin", callback=recorder)

    # One first call with both, so a bar takes them as its start, not as speed.
    assert recorder.history[0] == (size, already)
    assert recorder.values == sorted(recorder.values)
    assert (recorder.size, recorder.value) == (size, size)
    assert download(emulator, "dataset.bin") == local_file.read_bytes()


def test_a_resumed_upload_starts_its_bar_at_the_bytes_already_uploaded(emulator, tmp_path):
    pytest.importorskip("tqdm")
    from atai_fs.fs.progress_bar import FileBar

    local_file = tmp_path / "dataset.bin"
    local_file.write_bytes(os.urandom(40 * PART_SIZE - 123))
    upload_id = fail_put_file_midway(emulator, local_file)
    already = len(emulator.uploads[upload_id].checkpointed_parts) * PART_SIZE
    bar = FileBar("dataset.bin", file=io.StringIO())
    impatient(emulator).put_file(str(local_file), "dataset.bin", callback=bar)
    # tqdm's rate counts from its initial value: the resumed bytes are not speed.
    assert (bar.tqdm.initial, bar.tqdm.n, bar.tqdm.total) == (already, *(2 * [bar.size]))
    bar.close()


def test_failed_put_file_reports_no_more_than_it_sent(emulator, tmp_path):
    local_file = tmp_path / "dataset.bin"
    local_file.write_bytes(os.urandom(40 * PART_SIZE - 123))
    emulator.faults.add(route="storage_put", status=400, nth=20)
    recorder = Recorder()
    with pytest.raises(UploadFailed):
        impatient(emulator).put_file(str(local_file), "dataset.bin", callback=recorder)
    assert 0 < recorder.value < local_file.stat().st_size


def test_put_of_several_files_counts_files_and_bytes_per_file(fs, local_bytes):
    sizes = {"a.bin": 3 * PART_SIZE + 1, "b.csv": 100, "c.bin": 0}
    paths = [local_bytes(name, size)[0] for name, size in sizes.items()]
    recorder = Recorder()
    fs.put(paths, "inbox/", callback=recorder)
    assert (recorder.size, recorder.value) == (len(sizes), len(sizes))
    assert set(recorder.children) == set(sizes)
    for name, size in sizes.items():
        assert_reports_exactly(recorder.children[name], size)


@pytest.mark.parametrize("size", [0, 1, 5 * PART_SIZE + 7])
def test_get_file_reports_every_byte(fs, tmp_path, size):
    data = os.urandom(size)
    fs.pipe_file("data.bin", data)
    recorder = Recorder()
    fs.get_file("data.bin", str(tmp_path / "out.bin"), callback=recorder)
    assert (recorder.size, recorder.value) == (size, size)
    assert recorder.values == sorted(recorder.values)
    assert (tmp_path / "out.bin").read_bytes() == data


def test_retried_get_file_does_not_count_bytes_twice(fs, emulator, tmp_path):
    data = os.urandom(5 * PART_SIZE + 7)
    fs.pipe_file("data.bin", data)
    emulator.faults.add(route="download", action="reset", nth=1)
    recorder = Recorder()
    fs.get_file("data.bin", str(tmp_path / "out.bin"), callback=recorder)
    assert emulator.faults.fired
    assert recorder.values == sorted(recorder.values)
    assert (recorder.size, recorder.value) == (len(data), len(data))
    assert (tmp_path / "out.bin").read_bytes() == data


def test_get_of_several_files_counts_files_and_bytes_per_file(fs, tmp_path):
    sizes = {"a.bin": 3 * PART_SIZE + 1, "b.bin": 10}
    for name, size in sizes.items():
        fs.pipe_file(f"dir/{name}", os.urandom(size))
    recorder = Recorder()
    fs.get([f"dir/{name}" for name in sizes], str(tmp_path) + "/", callback=recorder)
    assert (recorder.size, recorder.value) == (len(sizes), len(sizes))
    for name, size in sizes.items():
        child = recorder.children[name]
        assert (child.size, child.value) == (size, size)


def test_tqdm_callback_shows_a_full_bar(emulator, local_bytes):
    pytest.importorskip("tqdm")
    path, data = local_bytes("data.bin", 5 * PART_SIZE + 7)
    screen = io.StringIO()
    progress = TqdmCallback(tqdm_kwargs={"file": screen, "disable": False, "unit": "B"})
    make_fs(emulator).put_file(path, "data.bin", callback=progress)
    assert (progress.tqdm.n, progress.tqdm.total) == (len(data), len(data))
    progress.close()
    assert "100%" in screen.getvalue()


def test_a_retried_part_never_makes_the_total_pass_the_size(emulator, local_bytes):
    # The first PUT of a part is cut after half its body: its bytes were counted as sent.
    path, data = local_bytes("data.bin", 4 * PART_SIZE + 9)
    emulator.faults.add(route="storage_put", action="reset", nth=1)
    recorder = Recorder()
    make_fs(emulator, chunk_size=4096, max_concurrency=1).put_file(
        path, "data.bin", callback=recorder
    )
    assert emulator.faults.fired
    assert recorder.values == sorted(recorder.values)
    assert max(recorder.values) <= len(data)
    assert (recorder.size, recorder.value) == (len(data), len(data))
    assert download(emulator, "data.bin") == data


@pytest.mark.parametrize("announced", [False, True], ids=["unknown-size", "known-size"])
@pytest.mark.parametrize("size", [0, PART_SIZE - 1, 5 * PART_SIZE + 7])
def test_open_for_writing_reports_bytes_to_its_callback(fs, emulator, announced, size):
    data = os.urandom(size)
    recorder = Recorder()
    options = {"size": size} if announced else {}
    with fs.open("data.bin", "wb", callback=recorder, **options) as f:
        for start in range(0, size, 10_000):
            f.write(data[start : start + 10_000])
    assert_reports_exactly(recorder, size)
    assert download(emulator, "data.bin") == data


def test_progress_option_draws_a_bar_for_every_write(emulator, capsys):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pandas.DataFrame({"x": range(200_000)})
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame.to_parquet("atai://tables/frame.parquet", storage_options={**options, "progress": True})
    screen = capsys.readouterr().err
    assert "atai://tables/frame.parquet" in screen
    assert "100%" in screen
    frame.to_parquet("atai://tables/quiet.parquet", storage_options=options)
    assert "quiet.parquet" not in capsys.readouterr().err


def test_progress_option_reads_fsspec_configuration_strings(emulator, monkeypatch, capsys):
    import fsspec.config

    # What FSSPEC_ATAI_PROGRESS=true becomes.
    monkeypatch.setitem(fsspec.config.conf, "atai", {"progress": "true"})
    fs = fsspec.filesystem(
        "atai",
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        skip_instance_cache=True,
    )
    assert fs.progress is True
    fs.pipe_file("blob.bin", os.urandom(3 * PART_SIZE))
    fs.get_file("blob.bin", os.devnull)
    screen = capsys.readouterr().err
    assert screen.count("atai://blob.bin") >= 2  # the upload's bar, then the download's


def test_a_callback_passed_wins_over_the_progress_option(emulator, capsys):
    recorder = Recorder()
    make_fs(emulator, progress=True).pipe_file("blob.bin", b"x" * 100, callback=recorder)
    assert_reports_exactly(recorder, 100)
    assert "blob.bin" not in capsys.readouterr().err


def test_a_bad_progress_option_names_it(emulator):
    with pytest.raises(ConfigurationError, match="progress must be true or false"):
        make_fs(emulator, progress="lots")


@pytest.mark.parametrize(
    "protocol", ["atai", "flow", "sandbox", "aionvision"], ids=lambda name: f"{name}://"
)
def test_every_protocol_takes_the_progress_option(protocol):
    import fsspec

    cls = fsspec.get_filesystem_class(protocol)
    assert "progress" in cls.option_names()
