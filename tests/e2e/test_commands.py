"""The `cpa-bandit` commands as a user runs them: a setting, a store or a server they cannot
use is one line on stderr and exit status 2, never a traceback; a reading command writes
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KEYS = "traffic=traffic-key-0123456789,postback=postback-key-0123456,read=read-key-0123456789"
"""Keys of a server that has no admin key: only the traffic and postback ones may simulate."""


def cpa_bandit(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CPA_BANDIT_")}
    return subprocess.run(
        [sys.executable, "-m", "cpa_bandit", *args],
        cwd=cwd, env=clean | (env or {}), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"CPA_BANDIT_ADMIN_KEY": "tinykey"}, ["CPA_BANDIT_ADMIN_KEY", "at least 16"]),
        ({"CPA_BANDIT_KEYS": "read=tinykey"}, ["CPA_BANDIT_KEYS line 1", "at least 16"]),
        ({"CPA_BANDIT_KEYS": "reader=read-key-0123456789"}, ["CPA_BANDIT_KEYS line 1", "role one of"]),
        ({"CPA_BANDIT_KEYS_FILE": "/nonexistent/keys"}, ["CPA_BANDIT_KEYS_FILE", "/nonexistent/keys"]),
        ({"CPA_BANDIT_STORE_TIMEOUT_MS": "-1"}, ["CPA_BANDIT_STORE_TIMEOUT_MS", "greater than 0"]),
        ({"CPA_BANDIT_LOG_LEVEL": "loud"}, ["CPA_BANDIT_LOG_LEVEL"]),
        ({"CPA_BANDIT_STORE": "postgres://db/x"}, ["unknown store scheme 'postgres'"]),
    ],
    ids=["short-admin-key", "short-key", "unknown-role", "missing-keys-file", "bad-number", "bad-level", "bad-store"],
)
def test_serve_refuses_a_bad_setting_in_one_line(tmp_path: Path, env: dict[str, str], needles: list[str]) -> None:
    result = cpa_bandit("serve", "--port", "1", cwd=tmp_path, env=env)  # never reaches the port
    assert_one_line_error(result, "cpa-bandit serve:", *needles)
    assert "tinykey" not in result.stderr  # a key's value is never echoed


def test_every_key_setting_takes_the_same_rule(tmp_path: Path) -> None:
    """A 16-character admin key is accepted where a 15-character one is refused, as in CPA_BANDIT_KEYS."""
    refused = cpa_bandit("serve", "--port", "1", cwd=tmp_path, env={"CPA_BANDIT_ADMIN_KEY": "a" * 15})
    assert_one_line_error(refused, "CPA_BANDIT_ADMIN_KEY has 15 characters")
    listed = cpa_bandit("serve", "--port", "1", cwd=tmp_path, env={"CPA_BANDIT_KEYS": "admin=" + "a" * 15})
    assert_one_line_error(listed, "the admin key has 15 characters")


def test_export_opens_nothing_that_is_not_there(tmp_path: Path) -> None:
    result = cpa_bandit("export", "--store", "sqlite:///nonexistent/dir/x.db", cwd=tmp_path)
    assert_one_line_error(result, "cpa-bandit export:", "no database at nonexistent/dir/x.db")
    assert result.stdout == "" and not (tmp_path / "nonexistent").exists()


def test_export_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database")
    assert_one_line_error(cpa_bandit("export", "--store", "sqlite:///notes.db", cwd=tmp_path), "notes.db")


def test_export_refuses_an_empty_range_and_an_unreachable_store(tmp_path: Path) -> None:
    empty = cpa_bandit("export", "--since", "2026-02-01", "--until", "2026-01-01", cwd=tmp_path)
    assert_one_line_error(empty, "--since 2026-02-01 is not before --until 2026-01-01")
    assert empty.stdout == "" and not (tmp_path / "data").exists()
    unreachable = cpa_bandit("export", "--store", "redis://127.0.0.1:1/0", cwd=tmp_path)
    assert_one_line_error(unreachable, "store unavailable", "127.0.0.1:1")
    assert unreachable.stdout == ""  # not even the CSV header


def test_export_reads_a_served_database_without_writing_to_it(serve_bandit, tmp_path: Path) -> None:
    server = serve_bandit()
    with server.client() as client:
        assert client.get("/sample/", params={"click_id": "c1", "offer_ids": "1,2"}).status_code == 200
    server.stop()
    before = server.db_path.read_bytes(), server.db_path.stat().st_mtime_ns
    result = cpa_bandit("export", "--store", server.store_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split(",")[2] == "c1"
    # SQLite's readers of a WAL database may re-create its -shm/-wal companions; the data stays
    assert (server.db_path.read_bytes(), server.db_path.stat().st_mtime_ns) == before


def test_simulate_over_http_takes_a_key(serve_bandit, tmp_path: Path) -> None:
    server = serve_bandit(env={"CPA_BANDIT_KEYS": KEYS})
    args = ["simulate", "--http", server.base_url, "--scenario", "static", "--seeds", "1", "--clicks", "40"]
    args += ["--policy", "ucb"]
    without = cpa_bandit(*args, cwd=tmp_path)
    assert without.returncode == 2 and "Traceback" not in without.stderr
    assert "401: API key required" in without.stderr.strip().splitlines()[-1]

    wrong_role = cpa_bandit(*args, "--key", "read-key-0123456789", cwd=tmp_path)
    assert wrong_role.returncode == 2 and "403" in wrong_role.stderr.strip().splitlines()[-1]

    both = {"CPA_BANDIT_API_KEY": "traffic-key-0123456789"}  # one key per role: traffic decides,
    assert cpa_bandit(*args, cwd=tmp_path, env=both).returncode == 2  # and feedback needs postback
    with_admin = serve_bandit(tmp_path / "admin.db", env={"CPA_BANDIT_KEYS": "admin=admin-key-0123456789"})
    ok = cpa_bandit(*args[:2], with_admin.base_url, *args[3:], cwd=tmp_path, env={"CPA_BANDIT_API_KEY": "admin-key-0123456789"})
    assert ok.returncode == 0, ok.stderr
    assert "40 clicks" in ok.stdout


def test_simulate_against_nothing_is_one_line(tmp_path: Path) -> None:
    result = cpa_bandit(
        "simulate", "--http", "http://127.0.0.1:1", "--scenario", "static", "--seeds", "1", "--clicks", "5",
        "--policy", "ucb", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Connection refused" in result.stderr.strip().splitlines()[-1]
