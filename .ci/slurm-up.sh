#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the cluster tests and docs/cluster.md's "Running on a
# cluster" commands: Debian's slurm-wlm (slurmctld + slurmd, SLURM 22.05) with munge, started
# without systemd. Idempotent: a rerun installs nothing new, keeps the key and the configuration
# it wrote, starts only the daemons that are not running, and waits until `sinfo` shows the node
# idle. Run as root (or with sudo available). A slurm.conf it did not write is never touched.
#
#   bash .ci/slurm-up.sh          # then: sinfo; dlbench bench pytorch-2.13 --on slurm ...
#   bash .ci/slurm-up.sh down     # stop the three daemons it started
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
CONF=/etc/slurm/slurm.conf
MARK="# written by dlbench .ci/slurm-up.sh"
LOGS=/var/log/slurm-dlbench
NODE="$(hostname -s)"
CPUS="$(nproc)"

pidfile_alive() { [ -f "$1" ] && $SUDO kill -0 "$($SUDO cat "$1")" 2>/dev/null; }

if [ "${1:-}" = down ]; then
    for pf in /run/slurmd-dlbench.pid /run/slurmctld-dlbench.pid /run/munge/munged.pid; do
        if pidfile_alive "$pf"; then $SUDO kill "$($SUDO cat "$pf")"; fi
    done
    exit 0
fi

missing=""
for pkg in slurm-wlm munge; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# munge: one key for the cluster (here: one machine); munged must be up before slurmd registers
if [ ! -s /etc/munge/munge.key ]; then
    $SUDO mkdir -p /etc/munge
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown munge:munge /etc/munge/munge.key
$SUDO chmod 400 /etc/munge/munge.key
$SUDO mkdir -p /run/munge /var/lib/munge /var/log/munge
$SUDO chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! pidfile_alive /run/munge/munged.pid; then
    $SUDO rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    $SUDO -u munge /usr/sbin/munged 2>/dev/null || $SUDO su -s /bin/sh munge -c /usr/sbin/munged
fi
for _ in $(seq 1 120); do  # up to a minute
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
done
munge -n </dev/null | unmunge >/dev/null || { echo "error: munged does not answer" >&2; exit 1; }

if [ -f "$CONF" ] && ! grep -q "^$MARK" "$CONF"; then
    echo "error: $CONF exists and was not written by this script: use that cluster" >&2
    exit 1
fi
$SUDO mkdir -p /etc/slurm "$LOGS" /var/spool/slurmctld-dlbench /var/spool/slurmd-dlbench
# KillWait: seconds between SIGTERM and SIGKILL when a job is cancelled or past its time limit
# (harness/launch/slurm_node.py writes its failed result in between). MinJobAge: finished jobs stay visible
# to squeue for 10 minutes (no accounting database here: no sacct).
$SUDO tee "$CONF.new" >/dev/null <<EOF
$MARK
ClusterName=dlbench
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
OverTimeLimit=0
SlurmctldPidFile=/run/slurmctld-dlbench.pid
SlurmdPidFile=/run/slurmd-dlbench.pid
StateSaveLocation=/var/spool/slurmctld-dlbench
SlurmdSpoolDir=/var/spool/slurmd-dlbench
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if ! $SUDO cmp -s "$CONF.new" "$CONF" 2>/dev/null; then
    $SUDO mv "$CONF.new" "$CONF"
    changed=1
else
    $SUDO rm -f "$CONF.new"
fi
if [ "$changed" = 1 ]; then  # a new configuration: restart what runs
    for pf in /run/slurmd-dlbench.pid /run/slurmctld-dlbench.pid; do
        if pidfile_alive "$pf"; then $SUDO kill "$($SUDO cat "$pf")"; sleep 1; fi
    done
fi
pidfile_alive /run/slurmctld-dlbench.pid || $SUDO /usr/sbin/slurmctld
pidfile_alive /run/slurmd-dlbench.pid || $SUDO /usr/sbin/slurmd

# wait until the node is idle, up to 5 minutes on a loaded machine (a node that was down is
# resumed once)
for i in $(seq 1 300); do
    state="$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n 1)"
    case "$state" in
        idle|mixed|allocated) echo "SLURM node $NODE is $state"; sinfo; exit 0 ;;
        down*|drain*)
            [ "$i" = 5 ] && $SUDO scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
echo "error: the SLURM node $NODE did not become idle (state: ${state:-none}); logs in $LOGS" >&2
$SUDO tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
exit 1
