"""`medley serve`, `medley users`, `medley tokens` in subprocesses (SQLite file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEY_")}
    return {
        **clean,
        "MEDLEY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "200",
    }


def medley(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medley", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "medley", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # poll until it answers, with a deadline
            try:
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "medley serve did not answer"
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_a_token_created_on_the_command_line_opens_the_api_until_revoked(
    env: dict[str, str], serve: str
) -> None:
    created = medley(env, "tokens", "create", "--role", "admin", "--name", "ci")

    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("medley_")
    assert " " not in token
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{serve}/api/stats", headers=headers).status_code == 200
    listed = medley(env, "tokens", "list")
    assert "ci" in listed.stdout
    assert token not in listed.stdout
    token_id = created.stdout.split()[1]
    assert medley(env, "tokens", "revoke", token_id).returncode == 0
    assert httpx.get(f"{serve}/api/stats", headers=headers).status_code == 401
    again = medley(env, "tokens", "revoke", token_id)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1


def test_users_are_added_with_a_password_and_removed(env: dict[str, str], serve: str) -> None:
    added = medley(
        env, "users", "add", "ada", "--role", "admin", "--password-stdin", stdin="correct horse\n"
    )
    updated = medley(
        env, "users", "add", "ada", "--role", "viewer", "--password-stdin", stdin="new password\n"
    )

    assert added.returncode == 0, added.stderr
    assert "added" in added.stdout
    assert "updated" in updated.stdout
    with httpx.Client(base_url=serve) as client:
        assert client.get("/hangfire/").status_code == 303  # now a login is required
    assert medley(env, "users", "remove", "ada").returncode == 0
    assert httpx.get(f"{serve}/hangfire/").status_code == 200  # loopback, no users again


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["tokens", "create", "--role", "root"], None),
        (["users", "add", "bob", "--role", "owner", "--password-stdin"], "long enough\n"),
        (["users", "add", "bob", "--password-stdin"], "short\n"),
        (["users", "remove", "nobody"], None),
    ],
)
def test_bad_input_exits_2_with_one_line(
    env: dict[str, str], args: list[str], stdin: str | None
) -> None:
    result = medley(env, *args, stdin=stdin)

    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
