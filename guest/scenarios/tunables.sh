# tunables: bad values for the page_reporting module parameters are
# refused and keep the old value; good ones take effect at the next pass.
#   MIB  MiB to free under the changed policy (200)
. /mnt/scenario-lib.sh
MIB=${MIB:-200}

for f in delay_ms capacity order; do
	echo "$f $(param $f)" >> $OUT/defaults
done
# file value: one line per attempt, "file value rc before after"
try() {
	before=$(param $1)
	if param $1 "$2"; then rc=0; else rc=1; fi
	echo "$1 '$2' $rc $before $(param $1)" >> $OUT/writes
}
for v in 0 33 -1 abc 4x 99999999999 " "; do try capacity "$v"; done
for v in 11 -1 x 4294967295; do try order "$v"; done
for v in 60001 -5 1.5; do try delay_ms "$v"; done
# good writes, then the policy the measured free runs under
for v in 16 32; do try capacity "$v"; done

events_on
wait_idle 0 120 || exit 1
try capacity 8
try order 10
try delay_ms 100
cat /proc/vmstat > $OUT/vmstat.before
memhog -m "$MIB" -M $OUT > $OUT/memhog.json || exit 1
wait_idle "$(npasses)" 120 || exit 1
cat /proc/vmstat > $OUT/vmstat.after
cat $T/trace > $OUT/trace.txt
cat /sys/kernel/debug/page_hinting/check > $OUT/check

# A new delay re-arms a pass already queued with the old one: queue one
# with 60 s (a free after the idle wait), then set 100 ms.
param delay_ms 60000
n=$(npasses)
memhog -m 64 > /dev/null
sleep 0.5
# busybox date has no %N: /proc/uptime counts in centiseconds
cut -d' ' -f1 /proc/uptime > $OUT/rearm-start
param delay_ms 100
i=0
while [ "$(npasses)" = "$n" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cut -d' ' -f1 /proc/uptime > $OUT/rearm-end
echo "$(( $(npasses) - n ))" > $OUT/rearm-passes
exit 0
