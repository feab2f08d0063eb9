#!/usr/bin/env bash
# The Docker engine up on this machine, for .ci/run (and by hand: bash .ci/docker-up.sh).
# Idempotent: an engine that answers is left alone; a dockerd already running (starting, or
# started by an earlier run) is waited for, never started twice; otherwise systemd starts it
# where systemd runs, else dockerd is started in the background (log: $DOCKERD_LOG). Waits up to
# $DOCKERD_WAIT seconds (default 300: a first start prepares /var/lib/docker) for `docker info`
# to answer; a dockerd that exits meanwhile fails at once. Failure: one line saying why, the
# last lines of the daemon's log, exit 1.
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
DOCKERD_WAIT="${DOCKERD_WAIT:-300}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/var/run/docker.pid}"  # dockerd's own --pidfile default

case "$DOCKERD_WAIT" in
    ''|*[!0-9]*) echo "error: DOCKERD_WAIT=$DOCKERD_WAIT: give whole seconds" >&2; exit 2 ;;
esac

engine_up() { $SUDO docker info >/dev/null 2>&1; }
alive() { [ -n "$1" ] && $SUDO kill -0 "$1" 2>/dev/null; }
# a live dockerd, not another process that took a stale pid file's number
is_dockerd() { alive "$1" && [ "$($SUDO cat "/proc/$1/comm" 2>/dev/null)" = dockerd ]; }
pid_in_file() { [ -f "$DOCKERD_PIDFILE" ] && $SUDO cat "$DOCKERD_PIDFILE" 2>/dev/null || true; }

fail() {
    echo "error: $1" >&2
    if [ "$log" = journal ]; then
        $SUDO journalctl -u docker -n 40 --no-pager >&2 || true
    else
        $SUDO tail -n 40 "$DOCKERD_LOG" >&2 || true
    fi
    exit 1
}

if engine_up; then
    exit 0
fi
log="$DOCKERD_LOG"
pid="$(pid_in_file)"
if is_dockerd "$pid"; then
    echo "dockerd (pid $pid) is running but does not answer yet: waiting for it"
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 \
        && $SUDO systemctl start docker; then
    log=journal
    pid=""
else
    echo "starting dockerd in the background (log: $DOCKERD_LOG)"
    $SUDO sh -c "echo \"--- dockerd started by .ci/docker-up.sh, \$(date -u)\" >> '$DOCKERD_LOG'"
    pid="$($SUDO sh -c "nohup dockerd >> '$DOCKERD_LOG' 2>&1 < /dev/null & echo \$!")"
fi
waited=0
until engine_up; do
    if [ -n "$pid" ] && ! alive "$pid"; then
        fail "dockerd (pid $pid) exited without the engine answering; its log ($log) ends:"
    fi
    if [ "$waited" -ge "$DOCKERD_WAIT" ]; then
        fail "the Docker engine did not answer within $DOCKERD_WAIT s (DOCKERD_WAIT); its log ($log) ends:"
    fi
    sleep 1
    waited=$((waited + 1))
done
echo "Docker engine up after ${waited} s"
