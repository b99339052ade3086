#!/usr/bin/env bash
# A one-node SLURM on this machine, to try `amal submit` and `amal study --submit` for real (and for
# `make test-slurm`): Debian's slurmctld, slurmd and munge, one node with this machine's cores and
# memory and no GPU, one partition `debug`. Run as root (it installs packages and starts daemons).
#
#   scripts/slurm_one_node.sh start    # installs the packages if missing, writes the config, starts it
#   scripts/slurm_one_node.sh stop     # stops the daemons it started, removes its state
#   scripts/slurm_one_node.sh status   # sinfo
#
# Its config and state live in AMAL_SLURM_DIR (default /tmp/amal-slurm). The commands (sbatch,
# squeue, scontrol) read it through SLURM_CONF=$AMAL_SLURM_DIR/slurm.conf; where /etc/slurm/slurm.conf
# does not exist, it is linked there for the time the cluster runs, so that they find it by themselves.
# A requeued job waits for SLURM's begin time (about two minutes) before it may start again:
# `scontrol update JobId=N StartTime=now` releases it at once.
set -euo pipefail

DIR=${AMAL_SLURM_DIR:-/tmp/amal-slurm}
CONF=$DIR/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf

say() { echo "slurm_one_node: $*" >&2; }
fail() { say "error: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || fail "run it as root (it installs packages and starts slurmctld, slurmd and munged)"; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null; then
        return
    fi
    say "installing Debian's slurmctld, slurmd, slurm-client and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            slurmctld slurmd slurm-client munge >/dev/null; } || fail "cannot install slurm's packages with apt-get"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # a munged already answers
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        say "writing a munge key"
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/started-munged"  # stop ends it, as this script started it
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    fail "munged does not answer"
}

write_config() {
    local host node
    host=$(hostname -s)
    node=$(slurmd -C | head -n 1)  # NodeName=HOST CPUs=... RealMemory=..., as slurmd sees this machine
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<EOF
# A one-node cluster written by scripts/slurm_one_node.sh: this machine, no GPU.
ClusterName=amal
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=${AMAL_SLURMCTLD_PORT:-6917}
SlurmdPort=${AMAL_SLURMD_PORT:-6918}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobs.txt
AccountingStorageType=accounting_storage/none
JobRequeue=1
ReturnToService=2
MinJobAge=600
KillWait=10
SlurmctldTimeout=30
SlurmdTimeout=60
MpiDefault=none
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ ! -e "$SYSTEM_CONF" ]; then
        mkdir -p "$(dirname "$SYSTEM_CONF")"
        ln -s "$CONF" "$SYSTEM_CONF"
    fi
}

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    need_root
    if running "$DIR/slurmctld.pid"; then
        say "already running (config $CONF)"
        return
    fi
    install_packages
    mkdir -p "$DIR"
    start_munge
    write_config
    export SLURM_CONF=$CONF
    slurmctld -f "$CONF" -i
    slurmd -f "$CONF"
    for _ in $(seq 150); do
        if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
            say "running: one node, $(sinfo -h -o %c) CPUs, partition debug (SLURM_CONF=$CONF)"
            return
        fi
        sleep 0.2
    done
    tail -n 5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    fail "the node did not come up within 30 s (logs in $DIR/log)"
}

stop() {
    need_root
    export SLURM_CONF=$CONF
    if running "$DIR/slurmctld.pid"; then
        scancel --full --quiet --user=root 2>/dev/null || true
    fi
    for daemon in slurmd slurmctld; do
        if running "$DIR/$daemon.pid"; then
            local pid
            pid=$(cat "$DIR/$daemon.pid")
            kill "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
    done
    if [ -e "$DIR/started-munged" ] && [ -s /run/munge/munged.pid ]; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
    fi
    if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$CONF" ]; then
        rm -f "$SYSTEM_CONF"
    fi
    rm -rf "$DIR"
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) SLURM_CONF=$CONF sinfo ;;
*) fail "usage: $0 start|stop|status" ;;
esac
