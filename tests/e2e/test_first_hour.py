"""The first hour with the CLI and the local server, as a new user meets it: commands find
the running server (or say they cannot), never make a second database, one server per data
directory, a busy port is refused before anything is printed, and output is clean."""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from logsvc_local.project import MIGRATIONS_DIR, ROOT
from tests.e2e.conftest import running_server

LOGSVC = str(Path(sys.executable).parent / "logsvc")


def logsvc(
    *arguments: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LOGSVC, *arguments], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def test_keys_made_by_the_cli_work_on_the_server_running_elsewhere(server, tmp_path):
    # As the README shows it, from another folder, naming the server's data directory.
    made = logsvc(
        "keys",
        "create",
        "--name",
        "ci",
        "--scope",
        "read",
        "--data-dir",
        str(server.data_dir),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    answer = requests.get(
        f"{server.url}/api/v1/logs/services", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 200
    assert not (tmp_path / "data").exists()  # no second data directory
    # The list shows the keys made; it says why the startup key is not among them.
    listed = logsvc("keys", "list", "--data-dir", str(server.data_dir), cwd=tmp_path)
    assert "ci" in [k["name"] for k in json.loads(listed.stdout)]  # a shared server: others too
    assert "LOG_SERVICE_API_KEY" in listed.stderr and "never listed" in listed.stderr


def test_commands_never_create_a_data_directory(tmp_path):
    missing = tmp_path / "nowhere"
    for arguments in (
        ("keys", "list", "--data-dir", str(missing)),
        ("keys", "list", "--direct", "--data-dir", str(missing)),
        ("cleanup", "--data-dir", str(missing)),
        ("analyze", "--data-dir", str(missing)),
        ("tail", "--data-dir", str(missing)),
    ):
        done = logsvc(*arguments, cwd=tmp_path)
        assert done.returncode == 1, arguments
        assert "no data directory" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not missing.exists() and not (tmp_path / "data").exists()


def test_a_second_server_on_the_same_data_directory_is_refused(server):
    port = _free_port()
    second = logsvc("serve", "--port", str(port), "--data-dir", str(server.data_dir), timeout=30)
    assert second.returncode == 1
    assert "another logsvc serve" in second.stderr and server.url in second.stderr
    assert "listening" not in second.stdout
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200  # untouched


def test_a_busy_port_is_refused_before_anything_is_printed(server, tmp_path):
    port = int(server.url.rsplit(":", 1)[1])
    busy = logsvc("serve", "--port", str(port), "--data-dir", str(tmp_path / "other"), timeout=30)
    assert busy.returncode == 1
    assert "cannot listen on 127.0.0.1" in busy.stderr
    assert "listening on" not in busy.stdout and "API key" not in busy.stdout
    assert not (tmp_path / "other").exists()  # no data directory left behind


@pytest.mark.parametrize("after", [0.2, 0.6, None])  # importing, starting, serving
def test_ctrl_c_stops_the_server_quietly_at_any_moment(tmp_path, after):
    """Ctrl-C (SIGINT) while the CLI loads, while it starts, or once it serves: exit 130
    (as shells report an interrupted command), no traceback."""
    server = subprocess.Popen(
        [LOGSVC, "serve", "--port", str(_free_port()), "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if after is None:
        while "listening on" not in server.stdout.readline():
            pass
        time.sleep(1)
    else:
        time.sleep(after)
    server.send_signal(signal.SIGINT)
    try:
        out, err = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        out, err = server.communicate()
        pytest.fail(f"still running 30 s after Ctrl-C; its output: {out[-500:]} {err[-2000:]}")
    assert server.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err + out
    assert not (tmp_path / "d" / "server.json").exists()


def test_ctrl_c_of_make_run_prints_no_error(tmp_path):
    """As a terminal sends it: SIGINT to make and the server together. Make prints neither
    "Interrupt" nor "Error 130"."""
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={_free_port()}", f"DATA={tmp_path / 'd'}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 300  # make may install first
        while "listening on" not in make.stdout.readline():
            assert time.monotonic() < deadline and make.poll() is None, make.stderr.read()
        os.killpg(make.pid, signal.SIGINT)
        _, err = make.communicate(timeout=30)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    # make itself ends by the signal it was sent (the shell reports 130, as for any
    # interrupted command), and says nothing about it.
    assert make.returncode in (0, -signal.SIGINT), err
    assert "make: ***" not in err and "Traceback" not in err, err


def test_tail_without_a_server_prints_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    done = logsvc(
        "tail", "--url", f"http://127.0.0.1:{_free_port()}", "--api-key", "k", cwd=tmp_path
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach" in done.stderr


def test_jobs_print_only_their_result_on_stdout(server):
    for job in ("cleanup", "analyze"):
        done = logsvc(job, "--data-dir", str(server.data_dir))
        assert done.returncode == 0, done.stderr
        json.loads(done.stdout)  # nothing but the document


def test_start_up_output_is_clean(tmp_path):
    with running_server(tmp_path / "fresh", ("--no-schedules",)) as started:
        text = "".join(started.output)
        assert (tmp_path / "fresh" / "server.json").is_file()
    assert "Warning" not in text and "Traceback" not in text
    applied = f"applied {len(list(MIGRATIONS_DIR.glob('*.sql')))} migration(s)"
    assert applied in text
    assert not (tmp_path / "fresh" / "server.json").exists()  # removed on a clean stop
    # The README shows the same first line.
    assert applied in (MIGRATIONS_DIR.parent / "README.md").read_text()
    # Where the CLI is, since .venv/bin is seldom on PATH: a command that runs.
    (cli,) = [line.split()[1] for line in text.splitlines() if line.strip().startswith("cli:")]
    assert subprocess.run([cli, "--help"], capture_output=True, timeout=60).returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tail_prints_each_entry_with_its_metadata(server):
    follow = subprocess.Popen(
        [LOGSVC, "tail", "--data-dir", str(server.data_dir), "--service", "tailed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        entry = {
            "service_name": "tailed",
            "level": "ERROR",
            "message": "payment failed",
            "metadata": {"order": "o-17", "http": {"status": 502}, "note": "two words"},
        }
        line = ""
        deadline = time.monotonic() + 20
        while "payment failed" not in line and time.monotonic() < deadline:
            server.ingest([entry])  # again until the subscription is in place
            ready, _, _ = select.select([follow.stdout], [], [], 1.0)
            if ready:
                line = follow.stdout.readline()
        assert "tailed: payment failed" in line
        assert 'order=o-17 http={"status":502} note="two words"' in line
    finally:
        follow.terminate()
        follow.wait(timeout=10)
