""".ci/docker-up.sh, the part of .ci/run that starts the Docker engine on a bare machine.

The script runs for real; `docker`, `dockerd`, `systemctl` and `sudo` are stand-ins on PATH (a
real second dockerd cannot be started beside the engine these tests share, and a bare machine
is what the script is for): `docker info` answers once the stand-in daemon says it is ready,
and the stand-in daemon writes its pid file as dockerd does, then starts, dies or hangs."""
import os
import subprocess
import textwrap
import time

import pytest

from helpers import HANG_S, ROOT

SCRIPT = os.path.join(ROOT, ".ci", "docker-up.sh")

STANDINS = {
    "docker": """\
        #!/bin/sh
        [ "$1" = info ] && [ -f "$FAKE_DIR/ready" ]
        """,
    "dockerd": """\
        #!/bin/bash
        echo $$ > "$DOCKERD_PIDFILE"
        echo started >> "$FAKE_DIR/starts"
        case "$FAKE_DOCKERD" in
            die) echo "failed to start daemon: Error initializing network controller" >&2
                 exit 1 ;;
            hang) ;;
            *) sleep 1; touch "$FAKE_DIR/ready" ;;
        esac
        while :; do sleep 1; done  # runs on as dockerd (killed by the test)
        """,
    "systemctl": "#!/bin/sh\nexit 1\n",  # no systemd here, whatever the host has
    "journalctl": "#!/bin/sh\nexit 0\n",
    "sudo": "#!/bin/sh\nexec \"$@\"\n",
}


@pytest.fixture
def bare(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in STANDINS.items():
        path = bindir / name
        path.write_text(textwrap.dedent(text))
        path.chmod(0o755)
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % bindir, FAKE_DIR=str(tmp_path),
               DOCKERD_LOG=str(tmp_path / "dockerd.log"),
               DOCKERD_PIDFILE=str(tmp_path / "docker.pid"), DOCKERD_WAIT="60")
    yield tmp_path, env
    pidfile = tmp_path / "docker.pid"
    if pidfile.exists():  # the stand-in daemon left running (and only that)
        pid = int(pidfile.read_text())
        try:
            with open("/proc/%d/comm" % pid) as f:
                ours = f.read().strip() == "dockerd"
        except OSError:
            ours = False
        if ours and pid != os.getpid():
            os.kill(pid, 9)


def up(env, **extra):
    return subprocess.run(["bash", SCRIPT], env=dict(env, **extra), capture_output=True,
                          text=True, timeout=HANG_S)


def starts(tmp):
    path = tmp / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_an_engine_that_answers_is_left_alone(bare):
    tmp, env = bare
    (tmp / "ready").touch()
    res = up(env)
    assert res.returncode == 0 and starts(tmp) == 0, res.stdout + res.stderr


def test_starts_dockerd_waits_for_it_and_a_second_run_starts_nothing(bare):
    tmp, env = bare
    res = up(env)
    assert res.returncode == 0, res.stderr
    assert "starting dockerd in the background" in res.stdout
    assert "Docker engine up after" in res.stdout
    again = up(env)
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    assert starts(tmp) == 1


def test_a_dockerd_still_starting_is_waited_for_not_started_twice(bare):
    tmp, env = bare
    first = subprocess.Popen(["bash", SCRIPT], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + HANG_S
    while not (tmp / "docker.pid").exists():  # the first run's dockerd is up, not ready
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = up(env)
    first.communicate(timeout=HANG_S)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "is running but does not answer yet: waiting for it" in second.stdout, second.stdout
    assert starts(tmp) == 1


def test_a_dockerd_that_dies_fails_at_once_with_one_line_and_its_log(bare):
    tmp, env = bare
    t0 = time.time()
    res = up(env, FAKE_DOCKERD="die", DOCKERD_WAIT=str(HANG_S))
    assert res.returncode == 1
    assert time.time() - t0 < HANG_S  # did not wait out DOCKERD_WAIT
    lines = res.stderr.splitlines()
    assert lines[0].startswith("error: dockerd (pid ") and "exited without the engine " \
        "answering; its log (%s) ends:" % env["DOCKERD_LOG"] in lines[0], res.stderr
    assert "failed to start daemon: Error initializing network controller" in res.stderr


def test_a_dockerd_that_never_answers_fails_after_dockerd_wait(bare):
    tmp, env = bare
    res = up(env, FAKE_DOCKERD="hang", DOCKERD_WAIT="2")
    assert res.returncode == 1
    assert res.stderr.splitlines()[0] == ("error: the Docker engine did not answer within 2 s "
                                          "(DOCKERD_WAIT); its log (%s) ends:"
                                          % env["DOCKERD_LOG"]), res.stderr


def test_a_stale_pid_file_is_not_taken_for_a_running_dockerd(bare):
    tmp, env = bare
    (tmp / "docker.pid").write_text("%d\n" % os.getpid())  # alive, but not a dockerd
    res = up(env)
    assert res.returncode == 0, res.stderr
    assert "starting dockerd" in res.stdout and starts(tmp) == 1


def test_a_bad_dockerd_wait_is_one_line(bare):
    tmp, env = bare
    res = up(env, DOCKERD_WAIT="soon")
    assert res.returncode == 2
    assert res.stderr.strip() == "error: DOCKERD_WAIT=soon: give whole seconds"
