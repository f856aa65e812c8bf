#!/bin/sh
# What runbooks/daily.yaml checks, the way the seeds' operators do it by
# hand (朝の点検): df, free, a 1 s CPU sample, file and permission tests,
# process counts. bench/run.sh times it next to `opsrun daily`.
df -h / | tail -1
df -i / | tail -1
df -h /tmp | tail -1
free -m | awk '/^Mem:/ {printf "memory %.0f%%\n", ($2 - $7) / $2 * 100}'
vmstat 1 2 | tail -1 | awk '{print "cpu idle " $15 "%"}'
cut -d' ' -f1 /proc/loadavg
test -f /etc/passwd && echo "passwd ok"
test -w /tmp && test -d /tmp && echo "tmp ok"
ps -e --no-headers | wc -l
ps -eo stat= | grep -c '^Z' || true
