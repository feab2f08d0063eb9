#!/usr/bin/env bash
# A Docker registry on this machine's loopback for `dlbench push` and the cluster tests: Debian's
# docker-registry (distribution 2.8) with a configuration of its own (the packaged one asks for
# htpasswd): 127.0.0.1:${DLBENCH_REGISTRY_PORT:-5000}, no authentication, storage under
# /var/lib/dlbench-registry. The Docker engine pushes to a localhost registry over plain HTTP
# without further setup. Idempotent: installs and starts only what is missing.
#
#   bash .ci/registry-up.sh        # then: dlbench push pytorch-2.13 --registry localhost:5000
#   bash .ci/registry-up.sh down
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
PORT="${DLBENCH_REGISTRY_PORT:-5000}"
CONF=/etc/dlbench-registry.yml
PIDFILE=/run/dlbench-registry.pid
LOG=/var/log/dlbench-registry.log

alive() { [ -f "$PIDFILE" ] && $SUDO kill -0 "$($SUDO cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = down ]; then
    if alive; then $SUDO kill "$($SUDO cat "$PIDFILE")"; fi
    exit 0
fi
if ! dpkg -s docker-registry >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi
# the package's own service (systemd, htpasswd) is not used
$SUDO mkdir -p /var/lib/dlbench-registry
$SUDO tee "$CONF" >/dev/null <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/dlbench-registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
if ! alive; then
    $SUDO sh -c "nohup /usr/bin/docker-registry serve $CONF >>$LOG 2>&1 & echo \$! > $PIDFILE"
fi
# up to 2 minutes (a loaded machine starts it slowly); a registry that exits fails at once
for _ in $(seq 1 240); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/', timeout=2)" 2>/dev/null; then
        echo "registry at localhost:$PORT"
        exit 0
    fi
    alive || break
    sleep 0.5
done
echo "error: the registry did not answer on 127.0.0.1:$PORT; log: $LOG" >&2
$SUDO tail -n 20 "$LOG" >&2 || true
exit 1
