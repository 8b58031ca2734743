"""Advice in errors is written once in Python's words and shown in the CLI's."""

from __future__ import annotations

from atai_fs.advice import call, for_cli, in_pandas, pass_options, rerun


def test_options_to_pass_become_dash_o_options():
    python = (
        f"the destination exists; {pass_options(('conflict', 'replace'), ('conflict', 'merge'))}"
    )
    assert python == "the destination exists; pass conflict='replace' or conflict='merge'"
    assert (
        for_cli(python) == "the destination exists; pass -o conflict=replace or -o conflict=merge"
    )


def test_a_placeholder_value_stays_a_placeholder():
    assert for_cli(f"({pass_options(('api_key', ...))} or set ATAI_API_KEY)") == (
        "(pass -o api_key=... or set ATAI_API_KEY)"
    )


def test_where_pandas_users_put_an_option_is_not_said_on_the_command_line():
    python = f"no key: {pass_options(('api_key', ...))}{in_pandas('api_key')}"
    assert (
        python == "no key: pass api_key=... (storage_options={'api_key': ...} in pandas and Dask)"
    )
    assert for_cli(python) == "no key: pass -o api_key=..."


def test_the_call_to_rerun_becomes_the_command_that_was_run():
    python = f"3 of 8 parts sent; {rerun('put_file')} to resume it"
    assert python == "3 of 8 parts sent; run the same put_file again to resume it"
    assert for_cli(python, "atai-fs cp big.bin atai://runs/") == (
        "3 of 8 parts sent; run 'atai-fs cp big.bin atai://runs/' again to resume it"
    )


def test_a_python_call_becomes_the_atai_fs_command():
    assert for_cli(f"list one run's edges with {call('ls', 'flow://RUN_ID/')}") == (
        "list one run's edges with atai-fs ls flow://RUN_ID/"
    )


def test_text_that_is_not_advice_is_left_alone():
    text = "initiating failed: HTTP 400 part_number=3 (X-Amz-Signature=***); pass -y"
    assert for_cli(text) == text
