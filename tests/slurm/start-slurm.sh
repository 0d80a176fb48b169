#!/usr/bin/env bash
# Start a real single-node Slurm (munge + slurmctld + slurmd on this host) for the workflow tests.
# Usage: tests/slurm/start-slurm.sh STATE_DIR
# Writes /etc/slurm/slurm.conf (the default place, so that job steps inside batch jobs find it too;
# an existing one is kept as slurm.conf.skysift-backup) and keeps state and logs in STATE_DIR.
# Needs root and Debian's slurm-wlm + munge (installed here when missing). No cgroups, no slurmdbd:
# proctrack/linuxproc, task/none, accounting off; finished jobs stay visible to squeue (MinJobAge).
set -euo pipefail
state=${1:?usage: start-slurm.sh STATE_DIR}
mkdir -p "$state"/{spool,ctld,log}
state=$(cd "$state" && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: one key for this host, daemon running as root (--force: we are a container).
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
if ! munge -n >/dev/null 2>&1; then
    munged --force
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
mkdir -p /etc/slurm
conf=/etc/slurm/slurm.conf
if [ -f "$conf" ] && ! grep -q '^ClusterName=skysift-test' "$conf"; then
    cp "$conf" /etc/slurm/slurm.conf.skysift-backup
fi
cat > "$conf" <<CONF
ClusterName=skysift-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=pmi2
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# A test Slurm left over by a killed run holds the ports: stop it first.
pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
for _ in $(seq 50); do pgrep -x 'slurmctld|slurmd' >/dev/null || break; sleep 0.1; done
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "slurm is up: $(sinfo -h -o '%P %D %T %N')"
        exit 0
    fi
    sleep 0.2
done
echo "start-slurm.sh: the node did not become idle; see $state/log" >&2
sinfo >&2 || true
exit 1
