#!/usr/bin/env bash
# Stop the Slurm started by start-slurm.sh STATE_DIR (munged is left running: it is harmless).
set -uo pipefail
state=${1:?usage: stop-slurm.sh STATE_DIR}
for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid"; do
    if [ -s "$pidfile" ]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
done
for _ in $(seq 50); do
    alive=0
    for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid"; do
        [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
done
if [ -f /etc/slurm/slurm.conf.skysift-backup ]; then
    mv /etc/slurm/slurm.conf.skysift-backup /etc/slurm/slurm.conf
fi
exit 0
