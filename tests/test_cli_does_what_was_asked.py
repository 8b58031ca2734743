"""``atai-fs`` does what was asked or exits non-zero with one line per thing not done.

Every test runs the command in a subprocess, as a script would, against an emulator on
loopback; each pins one behaviour a user saw go wrong.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atai_fs import ATAIFileSystem
from tests.conftest import download

CLI = [sys.executable, "-m", "atai_fs.cli"]
WORKTREE = str(Path(__file__).resolve().parents[1])
#: Upper bound on waiting for a subprocess to reach a state (never asserted as a time).
PATIENCE = 60.0


def cli_env(emulator=None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": WORKTREE, "ATAI_RATE_LIMIT": "off", **extra}
    if emulator is not None:
        env["ATAI_API_KEY"] = emulator.api_key
        env["ATAI_API_ENDPOINT"] = emulator.endpoint_url
    return env


def atai_fs(*args: str, env: dict[str, str], cwd=None, stdin: bytes | None = None):
    """Run ``atai-fs ARGS`` to its end; its exit code, stdout and stderr (text)."""
    result = subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, input=stdin, capture_output=True, timeout=120
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.fixture
def env(emulator) -> dict[str, str]:
    return cli_env(emulator)


@pytest.fixture
def fs(emulator) -> ATAIFileSystem:
    return ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``d/a.txt``, ``d/b.csv``, ``d/sub/c.txt``."""
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.csv", "sub/c.txt"):
        (root / name).write_bytes(name.encode())
    return root


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("atai-fs"), err
    assert "Traceback" not in err
    return lines[0]


# -- directories need -r, as with cp and rm -----------------------------------------------


def test_cp_of_a_local_directory_without_r_says_omitting_directory_and_exits_1(env, tree, fs):
    code, _, err = atai_fs("cp", str(tree), "atai://x/", env=env)
    assert code == 1
    assert "omitting directory" in one_error_line(err)
    assert not fs.exists("x/d/a.txt")


def test_cp_of_a_remote_directory_without_r_says_omitting_directory(env, fs, tmp_path):
    fs.pipe_file("dir/a.bin", b"a")
    code, _, err = atai_fs("cp", "atai://dir", str(tmp_path / "local"), env=env)
    assert code == 1 and "omitting directory 'atai://dir'" in one_error_line(err)
    assert not (tmp_path / "local").exists()


def test_rm_of_a_directory_without_r_is_an_error_and_deletes_nothing(env, fs):
    fs.pipe_file("dir/a.bin", b"a")
    code, _, err = atai_fs("rm", "-y", "atai://dir/", env=env)
    assert code == 1 and "is a directory" in one_error_line(err)
    assert fs.exists("dir/a.bin")


# -- remote to remote ---------------------------------------------------------------------


def test_remote_copy_to_a_new_name_makes_that_file(env, fs):
    fs.pipe_file("a.txt", b"alpha")
    code, _, err = atai_fs("cp", "atai://a.txt", "atai://a2.txt", env=env)
    assert (code, err) == (0, "")
    assert fs.cat_file("a2.txt") == b"alpha"
    assert not fs.exists("a2.txt/a.txt")


def test_recursive_remote_copy_keeps_the_layout_below_the_directory(env, fs):
    for name in ("ds/top.bin", "ds/sub/deep.bin"):
        fs.pipe_file(name, name.encode())
    code, _, _ = atai_fs("cp", "-r", "atai://ds", "atai://copy/", env=env)
    assert code == 0
    fs.invalidate_cache()
    assert fs.cat_file("copy/ds/sub/deep.bin") == b"ds/sub/deep.bin"
    assert fs.cat_file("copy/ds/top.bin") == b"ds/top.bin"


def test_copy_between_protocols_downloads_then_uploads(env, fs, tmp_path):
    from atai_fs.emulator.sandbox import SandboxEmulator

    data = os.urandom(300_000)
    fs.pipe_file("model.bin", data)
    with SandboxEmulator(tmp_path / "sandbox") as sandbox:
        both = {
            **env,
            "SANDBOX_API_KEY": sandbox.api_key,
            "SANDBOX_API_ENDPOINT": sandbox.endpoint_url,
        }
        target = "sandbox://sb_a1b2c3d4/workspace/model.bin"
        code, _, err = atai_fs("cp", "atai://model.bin", target, env=both)
        assert (code, err) == (0, "")
        assert sandbox.read_file("sb_a1b2c3d4", "/workspace/model.bin") == data


# -- what could not be read is said -----------------------------------------------------


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="permission bits do not stop root from reading a directory",
)
def test_cp_r_lists_an_unreadable_subdirectory_and_exits_1(env, tree, fs):
    locked = tree / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_bytes(b"s")
    os.chmod(locked, 0)
    try:
        code, _, err = atai_fs("cp", "-r", str(tree), "atai://up/", env=env)
    finally:
        os.chmod(locked, 0o755)
    assert code == 1
    assert "locked" in one_error_line(err) and "not copied" in err
    assert fs.cat_file("up/d/sub/c.txt") == b"sub/c.txt"  # the rest was copied


def test_cp_r_lists_a_directory_it_cannot_open_and_exits_1(env, tree, fs):
    # A path longer than the system's limit cannot be opened, by root too.
    top = os.open(tree, os.O_RDONLY)
    fd = top
    for _ in range(20):
        os.mkdir("n" * 250, dir_fd=fd)
        fd_next = os.open("n" * 250, os.O_RDONLY, dir_fd=fd)
        if fd != top:
            os.close(fd)
        fd = fd_next
    os.close(fd)
    os.close(top)
    code, _, err = atai_fs("cp", "-r", str(tree), "atai://deep/", env=env)
    assert code == 1
    assert "cannot read directory" in one_error_line(err) and "not copied" in err
    assert fs.cat_file("deep/d/sub/c.txt") == b"sub/c.txt"  # the rest was copied


def test_cp_of_an_unreadable_flow_edge_is_an_error_not_a_type_error(tmp_path):
    from atai_fs.emulator.flow import FlowEmulator
    from atai_fs.fs.flow import FlowFileSystem
    from tests.flow.conftest import NODE_DEFS, image_resize_flow

    with FlowEmulator() as emu:
        fs = FlowFileSystem(endpoint_url=emu.endpoint_url, skip_instance_cache=True)
        run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
        (edge,) = fs.ls(f"flow://{run_id}/", detail=False)
        env = cli_env(FLOW_API_ENDPOINT=emu.endpoint_url)
        code, _, err = atai_fs("cp", f"flow://{edge}", str(tmp_path / "back.txt"), env=env)
    assert code == 1
    line = one_error_line(err)
    assert "cannot be read" in line and "NoneType" not in line
    assert list(tmp_path.iterdir()) == []


# -- downloads: a missing directory, interrupts ---------------------------------------------


def test_cp_into_a_missing_local_directory_refuses_as_posix_cp_does(env, fs, tmp_path):
    fs.pipe_file("a.txt", b"a")
    code, _, err = atai_fs("cp", "atai://a.txt", "dl/", env=env, cwd=tmp_path)
    assert code == 1 and "no such directory" in one_error_line(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", ["atai://a.txt", "local.txt"], ids=["download", "local"])
def test_cp_to_a_file_in_a_missing_local_directory_names_the_directory(env, fs, tmp_path, source):
    fs.pipe_file("a.txt", b"a")
    (tmp_path / "local.txt").write_bytes(b"a")
    code, _, err = atai_fs("cp", source, "missing/a.txt", env=env, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 1
    assert f"no such directory {str(tmp_path / 'missing')!r}" in line
    assert "partial" not in line and "Errno" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.txt"]


def test_cp_r_of_one_directory_into_a_new_local_directory_creates_it(env, fs, tmp_path):
    fs.pipe_file("ds/sub/b.txt", b"b")
    code, _, _ = atai_fs("cp", "-r", "atai://ds", "new/", env=env, cwd=tmp_path)
    assert code == 0
    assert (tmp_path / "new" / "sub" / "b.txt").read_bytes() == b"b"


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["int", "term"]
)
def test_an_interrupted_download_removes_its_partial_file(
    emulator, fs, tmp_path, signum, exit_code
):
    fs.pipe_file("big.bin", os.urandom(2 << 20))
    emulator.faults.add(route="download", action="slow", delay=120)
    process = subprocess.Popen(
        [*CLI, "cp", "atai://big.bin", "out.bin"],
        env=cli_env(emulator),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while not list(tmp_path.glob("out.bin.atai-partial-*")):
            assert time.monotonic() < deadline, "the download never started"
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signum)
        assert process.wait(timeout=PATIENCE) == exit_code
    finally:
        if process.poll() is None:
            process.kill()
    assert list(tmp_path.iterdir()) == []


# -- the emulator in the foreground -----------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """``atai-fs serve ARGS``: the process, its banner line and its ``export`` line."""
    process = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *args],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = process.stdout.readline()
    export = process.stdout.readline()
    return process, banner, export


def exported(export: str) -> dict[str, str]:
    assert export.startswith("export "), export
    return dict(item.split("=", 1) for item in export.split()[1:])


def test_serve_stopped_with_sigterm_removes_its_temporary_data_dir():
    process, banner, _ = start_serve()
    try:
        data_dir = Path(banner.rsplit("data_dir: ", 1)[1].rstrip(")\n"))
        assert data_dir.is_dir()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0  # being stopped is how a server ends (README)
    assert not data_dir.exists()


def test_serve_without_a_key_makes_up_a_random_one_and_prints_its_export_line():
    keys = []
    for _ in range(2):
        process, banner, export = start_serve("--access-log")
        try:
            variables = exported(export)
            assert set(variables) == {"ATAI_API_KEY", "ATAI_API_ENDPOINT"}
            assert variables["ATAI_API_ENDPOINT"] in banner
            fs = ATAIFileSystem(
                api_key=variables["ATAI_API_KEY"],
                endpoint_url=variables["ATAI_API_ENDPOINT"],
                skip_instance_cache=True,
            )
            fs.pipe_file("k.bin", b"k" * 10)
            assert fs.cat_file("k.bin") == b"k" * 10
            keys.append(variables["ATAI_API_KEY"])
        finally:
            process.send_signal(signal.SIGTERM)
            log = process.communicate(timeout=PATIENCE)[0]
        assert "GET /v0.5/files/download/k.bin 200" in log
        assert "?" not in log and variables["ATAI_API_KEY"] not in log
    assert keys[0] != keys[1] and len(keys[0]) >= 32
    assert "test-key" not in keys


@pytest.mark.parametrize(
    ("api", "variables"),
    [
        ("flow", {"FLOW_API_ENDPOINT"}),
        ("sandbox", {"SANDBOX_API_KEY", "SANDBOX_API_ENDPOINT"}),
        ("aionvision", {"AIONVISION_API_KEY", "AIONVISION_API_ENDPOINT"}),
    ],
)
def test_every_emulator_prints_its_protocols_export_line(api, variables):
    process, banner, export = start_serve(api)
    try:
        assert set(exported(export)) == variables, banner
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=PATIENCE)


def test_serve_refuses_options_its_emulator_does_not_take_when_parsing():
    code, _, err = atai_fs("serve", "flow", "--part-size", "1MiB", env=cli_env())
    assert code == 2 and "the flow emulator takes no --part-size" in one_error_line(err)
    code, _, err = atai_fs("serve", "--set", "url_lifetim=3", env=cli_env())
    assert code == 2 and "did you mean --url-lifetime?" in one_error_line(err)


def test_serve_help_suggests_only_options_emulators_take():
    code, out, _ = atai_fs("serve", "--help", env=cli_env())
    assert code == 0 and "tier=pro " not in out and "tier=pro\n" not in out


# -- pipes, '-', globs, mixed sources -----------------------------------------------------


@pytest.mark.parametrize("command", [["cat", "atai://big.txt"], ["ls", "atai://many/"]])
def test_output_into_a_closed_pipe_is_not_an_error(emulator, fs, command):
    fs.pipe_file("big.txt", b"line\n" * 400_000)
    for i in range(3):
        fs.pipe_file(f"many/{i}.txt", b"x")
    process = subprocess.Popen(
        [*CLI, *command], env=cli_env(emulator), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader is gone before anything is written (| head)
    _, err = process.communicate(timeout=PATIENCE)
    assert (process.returncode, err) == (0, b"")


def test_cat_of_a_directory_is_an_error(env, fs):
    fs.pipe_file("dir/a.txt", b"a")
    code, out, err = atai_fs("cat", "atai://dir/", env=env)
    assert (code, out) == (1, "") and "is a directory" in one_error_line(err)


def test_dash_is_stdin_as_source_and_stdout_as_destination(env, fs):
    code, _, _ = atai_fs("cp", "-", "atai://from-stdin.txt", env=env, stdin=b"piped bytes")
    assert code == 0 and fs.cat_file("from-stdin.txt") == b"piped bytes"
    code, out, _ = atai_fs("cp", "atai://from-stdin.txt", "-", env=env)
    assert (code, out) == (0, "piped bytes")


def test_a_glob_matching_nothing_is_one_line_naming_it(env, tmp_path):
    code, _, err = atai_fs("cp", "nomatch*", "atai://z/", env=env, cwd=tmp_path)
    assert code == 1 and one_error_line(err) == "atai-fs: error: no match for 'nomatch*'"


def test_local_and_remote_sources_mix(env, fs, tmp_path):
    (tmp_path / "local.txt").write_bytes(b"local")
    fs.pipe_file("remote.txt", b"remote")
    (tmp_path / "dl").mkdir()
    code, _, err = atai_fs("cp", "local.txt", "atai://remote.txt", "dl/", env=env, cwd=tmp_path)
    assert (code, err) == (0, "")
    assert (tmp_path / "dl" / "local.txt").read_bytes() == b"local"
    assert (tmp_path / "dl" / "remote.txt").read_bytes() == b"remote"


# -- flags and exit codes -----------------------------------------------------------------


def test_version():
    code, out, _ = atai_fs("--version", env=cli_env())
    assert code == 0 and out.startswith("atai-fs ")


@pytest.mark.parametrize("position", ["before", "after"])
def test_debug_and_quiet_are_taken_before_or_after_the_command(env, fs, position):
    fs.pipe_file("f.txt", b"f")
    flags = ["--debug", "-q"]
    args = [*flags, "ls", "atai://"] if position == "before" else ["ls", "atai://", *flags]
    code, out, err = atai_fs(*args, env=env)
    assert code == 0 and "f.txt" in out
    assert "GET " in err  # --debug logs requests


@pytest.mark.parametrize(
    "args", [["cp", "only-one"], ["ls", "atai://", "-o", "novalue"], ["no-such-command"]]
)
def test_usage_errors_exit_2_on_one_line(env, args):
    code, _, err = atai_fs(*args, env=env)
    assert code == 2
    assert "--help" in one_error_line(err)


# -- messages in the CLI's words ------------------------------------------------------------


def test_an_endpoint_without_the_api_path_is_named_as_wrong(emulator):
    endpoint = emulator.endpoint_url.removesuffix("/v0.5")
    env = {**cli_env(emulator), "ATAI_API_ENDPOINT": endpoint}
    code, _, err = atai_fs("info", "atai://a.txt", env=env)
    line = one_error_line(err)
    assert code == 1 and "looks wrong" in line and "/v0.5" in line
    assert "may have been deleted" not in line


@pytest.mark.parametrize(
    ("url", "variable"),
    [
        ("atai://a.txt", "ATAI_API_KEY"),
        ("sandbox://sb_a1b2c3d4/workspace/a.txt", "SANDBOX_API_KEY"),
    ],
)
def test_a_missing_key_says_the_variable_and_the_dash_o_option_only(tmp_path, url, variable):
    (tmp_path / "a.txt").write_bytes(b"a")
    env = {k: v for k, v in cli_env().items() if not k.endswith("_API_KEY")}
    code, _, err = atai_fs("cp", "a.txt", url, env=env, cwd=tmp_path)
    line = one_error_line(err)
    assert code == 1
    assert f"set the {variable} environment variable, or pass -o api_key=..." in line
    assert "storage_options" not in line and "pandas" not in line


def test_no_raw_rest_hint_reaches_the_user(env):
    code, _, err = atai_fs("info", "atai://missing.txt", env=env)
    assert code == 1 and "GET /files" not in one_error_line(err)


def test_aionvision_uploads_say_per_file_uploaded_or_skipped_with_its_id(tmp_path):
    from atai_fs.emulator.aionvision import AionVisionEmulator

    image = tmp_path / "frame.jpg"
    image.write_bytes(b"\xff\xd8\xff" + os.urandom(2000))
    with AionVisionEmulator(tmp_path / "aion") as emu:
        env = cli_env(
            AIONVISION_API_KEY=emu.api_key,
            AIONVISION_API_ENDPOINT=emu.endpoint_url,
            AIONVISION_RATE_LIMIT="off",
        )
        args = ("cp", "-o", "poll_interval=0.01", "-o", "skip_duplicates=true")
        code, out, _ = atai_fs(*args, str(image), "aionvision://", env=env)
        assert code == 0 and out.startswith(f"uploaded {image} (id ")
        code, out, _ = atai_fs(*args, str(image), "aionvision://", env=env)
        assert code == 0 and out.startswith(f"skipped {image}: duplicate")
        # Run from the folder, a relative argument is shown as written, not absolute.
        again = ("cp", "-o", "poll_interval=0.01", "-o", "skip_duplicates=true")
        code, out, _ = atai_fs(*again, "frame.jpg", "aionvision://", env=env, cwd=tmp_path)
        assert code == 0 and out.startswith("skipped frame.jpg: duplicate"), out
        assert str(tmp_path) not in out
        (tmp_path / "sub").mkdir()
        code, out, _ = atai_fs(
            *again, "../frame.jpg", "aionvision://", env=env, cwd=tmp_path / "sub"
        )
        assert code == 0 and out.startswith("skipped ../frame.jpg: duplicate"), out


# -- mv, du, ls -R, --dry-run, --include/--exclude ------------------------------------------


def test_mv_copies_then_deletes_the_source(env, fs, tree):
    code, _, _ = atai_fs("mv", str(tree), "atai://moved/", env=env)
    assert code == 0 and not tree.exists()
    fs.invalidate_cache()
    assert fs.cat_file("moved/d/sub/c.txt") == b"sub/c.txt"
    code, _, _ = atai_fs("mv", "atai://moved/d/a.txt", "atai://a.txt", env=env)
    fs.invalidate_cache()
    assert code == 0 and fs.cat_file("a.txt") == b"a.txt" and not fs.exists("moved/d/a.txt")


def test_du_totals_sizes_and_files(env, fs):
    fs.pipe_file("du/a.bin", b"1" * 100)
    fs.pipe_file("du/sub/b.bin", b"2" * 50)
    code, out, _ = atai_fs("du", "--bytes", "atai://du/", env=env)
    assert code == 0 and out.split() == ["150", "2", "files", "atai://du/"]


def test_ls_r_lists_everything_below(env, fs):
    fs.pipe_file("tree/a.bin", b"a")
    fs.pipe_file("tree/sub/b.bin", b"b")
    code, out, _ = atai_fs("ls", "-R", "atai://tree/", env=env)
    assert code == 0 and out.split() == ["a.bin", "sub/", "sub/b.bin"]  # from the directory
    code, out, _ = atai_fs("ls", "-R", "atai://tree", env=env)
    assert code == 0 and out.split() == ["a.bin", "sub/", "sub/b.bin"]
    code, out, _ = atai_fs("ls", "-R", "--full", "atai://tree/", env=env)
    assert out.split() == ["atai://tree/a.bin", "atai://tree/sub/", "atai://tree/sub/b.bin"]


def test_ls_of_several_urls_lists_each_under_its_url(env, fs):
    fs.pipe_file("one/a.bin", b"a")
    fs.pipe_file("two/b.bin", b"b")
    code, out, err = atai_fs("ls", "atai://one/", "atai://two/", env=env)
    assert code == 0, err
    assert out == "atai://one/:\na.bin\n\natai://two/:\nb.bin\n"
    code, out, err = atai_fs("ls", "atai://missing/", "atai://one/", env=env)
    assert code == 1 and "atai://one/:\na.bin" in out and "missing" in err


def test_dry_run_prints_and_does_nothing(env, fs, tree):
    code, out, _ = atai_fs("cp", "-r", "--dry-run", str(tree), "atai://dry/", env=env)
    assert code == 0 and f"would copy {tree / 'sub' / 'c.txt'} -> atai://dry/d/sub/c.txt" in out
    fs.pipe_file("keep.txt", b"k")
    code, out, _ = atai_fs("rm", "--dry-run", "atai://keep.txt", env=env)
    assert code == 0 and out == "would delete atai://keep.txt\n"
    assert fs.exists("keep.txt") and not fs.exists("dry/d/a.txt")


def test_include_and_exclude_filter_recursive_copies(env, emulator, tree):
    code, _, _ = atai_fs(
        "cp", "-r", "--include", "*.txt", "--exclude", "sub/*", str(tree), "atai://f/", env=env
    )
    assert code == 0
    assert download(emulator, "f/d/a.txt") == b"a.txt"
    fs = ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    assert fs.find("f/") == ["f/d/a.txt"]


def test_exclude_and_include_filter_files_named_or_matched_by_a_glob(env, fs, tmp_path):
    for name in ("keep.csv", "drop.log"):
        (tmp_path / name).write_bytes(name.encode())
    code, _, err = atai_fs(
        "cp", "--exclude", "*.log", "keep.csv", "drop.log", "atai://named/", env=env, cwd=tmp_path
    )
    assert (code, err) == (0, "")
    code, _, err = atai_fs(
        "cp", "--include", "*.csv", "*", "atai://globbed/", env=env, cwd=tmp_path
    )
    assert (code, err) == (0, "")
    assert fs.find("named/") == ["named/keep.csv"]
    assert fs.find("globbed/") == ["globbed/keep.csv"]


def test_a_sandbox_conflict_says_the_dash_o_option_to_pass(tmp_path):
    from atai_fs.emulator.sandbox import SandboxEmulator

    (tmp_path / "f.txt").write_bytes(b"one")
    with SandboxEmulator(tmp_path / "sandbox") as sandbox:
        env = cli_env(SANDBOX_API_KEY=sandbox.api_key, SANDBOX_API_ENDPOINT=sandbox.endpoint_url)
        target = "sandbox://sb_a1b2c3d4/workspace/f.txt"
        assert atai_fs("cp", str(tmp_path / "f.txt"), target, env=env)[0] == 0
        code, _, err = atai_fs(
            "cp", "-o", "conflict=error", str(tmp_path / "f.txt"), target, env=env
        )
    line = one_error_line(err)
    assert code == 1 and "pass -o conflict=replace or -o conflict=merge" in line
    assert "conflict='replace'" not in line


def test_an_upload_left_resumable_says_the_command_to_rerun(emulator, tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(5 * 64 * 1024))
    emulator.faults.add(route="storage_put", action="status", status=503, nth=3)
    args = ("cp", "-o", "retry=attempts=1", "big.bin", "atai://big.bin")
    code, _, err = atai_fs(*args, env=cli_env(emulator), cwd=tmp_path)
    line = one_error_line(err)
    assert code == 1
    assert "run 'atai-fs cp -o retry=attempts=1 big.bin atai://big.bin' again" in line
    assert "put_file" not in line


def test_an_interrupted_upload_of_many_files_leaves_none_unaccounted_for(emulator, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for i in range(4):
        (source / f"f{i}.bin").write_bytes(os.urandom(3 * 64 * 1024))
    emulator.faults.add(route="storage_put", action="slow", delay=120)
    process = subprocess.Popen(
        [*CLI, "cp", "-r", "src", "atai://up/"],
        env=cli_env(emulator, XDG_CACHE_HOME=str(tmp_path / "cache")),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        # Every file's upload has begun on both sides: the client sends a part only once
        # it holds the upload's answer (before that, an interrupt aborts or resumes it
        # through the initiate's own cleanup, a different path from this test's).
        while emulator.stats.requests_by_route.get("storage_put", 0) < 4:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    left = [u for u, view in emulator.uploads.items() if view.state == "in_progress"]
    assert len(left) == 4
    for upload_id in left:  # each one said so, with the command that resumes it
        assert f"upload {upload_id} was left in progress" in err
    assert err.count("run 'atai-fs cp -r src atai://up/' again to resume it") == 4
    # One line per upload and one that ends the command: nothing said twice.
    *notes, last = err.strip().splitlines()
    assert len(notes) == 4, err
    assert last == "atai-fs: interrupted; 4 upload(s) left resumable, each said above"


@pytest.mark.parametrize(
    "command", [["cat", "URL"], ["cp", "URL", "-"], ["rm", "-y", "URL"]], ids=["cat", "cp", "rm"]
)
def test_reading_a_write_only_url_says_it_is_write_only_not_that_nothing_is_there(
    tmp_path, command
):
    from atai_fs.emulator.sandbox import SandboxEmulator

    with SandboxEmulator(tmp_path / "sandbox") as sandbox:
        env = cli_env(SANDBOX_API_KEY=sandbox.api_key, SANDBOX_API_ENDPOINT=sandbox.endpoint_url)
        url = "sandbox://sb_a1b2c3d4/workspace/f.txt"
        (tmp_path / "f.txt").write_bytes(b"f")
        assert atai_fs("cp", str(tmp_path / "f.txt"), url, env=env)[0] == 0
        code, out, err = atai_fs(*[url if a == "URL" else a for a in command], env=env)
    line = one_error_line(err)
    assert (code, out) == (1, "")
    assert "sandbox:// is write-only" in line and "no such file" not in line


def test_a_directory_goes_to_a_sandbox_whole_as_one_archive(tree, tmp_path):
    from atai_fs.emulator.sandbox import SandboxEmulator

    with SandboxEmulator(tmp_path / "sandbox") as sandbox:
        env = cli_env(SANDBOX_API_KEY=sandbox.api_key, SANDBOX_API_ENDPOINT=sandbox.endpoint_url)
        target = "sandbox://sb_a1b2c3d4/workspace/"
        code, _, err = atai_fs("cp", "-r", str(tree), target, env=env)
        assert (code, err) == (0, "")
        assert sandbox.read_file("sb_a1b2c3d4", "/workspace/d/sub/c.txt") == b"sub/c.txt"
        assert [view.kind for view in sandbox.sessions.values()] == ["directory_tar"]


def test_an_endpoint_that_refuses_connections_is_said_at_once_not_after_the_deadline(emulator):
    # Nothing listens on the emulator's port once it is stopped: a wrong port, as a typo.
    env = cli_env(emulator)
    emulator.stop()
    code, _, err = atai_fs("ls", "-o", "retry=attempts=3,base_delay=0", "atai://", env=env)
    still_trying, error = err.strip().splitlines()
    assert code == 1
    assert "could not connect" in still_trying and "retrying for up to 5 minutes" in still_trying
    assert "pass -o retry=deadline=30 to give up sooner" in still_trying
    assert error.startswith("atai-fs: error: ") and "gave up after 3 tries" in error


def test_filters_that_match_nothing_say_so_and_exit_1(env, fs, tree):
    code, _, err = atai_fs("cp", "-r", "--include", "*.zzz", str(tree), "atai://none/", env=env)
    assert code == 1 and "no file under" in one_error_line(err) and "--include" in err
    assert not fs.exists("none")


def test_dry_run_refuses_what_the_run_would_refuse(env, fs, tmp_path):
    local = tmp_path / "x.txt"
    local.write_bytes(b"x")
    code, out, err = atai_fs("cp", "-n", str(local), "atai://a/../b.txt", env=env)
    assert code == 1 and "write to 'atai://b.txt'" in one_error_line(err)
    assert "would copy" not in out


def test_a_double_slash_name_is_refused_not_hidden(env, fs, tmp_path):
    local = tmp_path / "x.txt"
    local.write_bytes(b"x")
    code, _, err = atai_fs("cp", str(local), "atai://d//e.txt", env=env)
    assert code == 1 and "write to 'atai://d/e.txt'" in one_error_line(err)
    assert fs.ls("", detail=False) == []


@pytest.mark.parametrize("option", ["use_listings_cache=false", "loop=1", "asynchronous=true"])
def test_fsspec_plumbing_is_refused_on_the_command_line(env, option):
    code, _, err = atai_fs("ls", "-o", option, "atai://", env=env)
    assert code == 2 and "fsspec's own setting" in err and "Traceback" not in err


def test_a_short_key_does_not_mangle_messages(emulator, tmp_path):
    env = cli_env(None, ATAI_API_ENDPOINT=emulator.endpoint_url)
    local = tmp_path / "e.txt"
    local.write_bytes(b"x")
    code, _, err = atai_fs("cp", "-o", "api_key=atai", str(local), "atai://e.txt", env=env)
    assert code == 1
    assert "atai://e.txt" in err and "***://" not in err
