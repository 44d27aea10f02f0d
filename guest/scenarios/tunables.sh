# tunables: bad writes to /sys/kernel/mm/page_hinting/* are refused and
# keep the old value; good writes take effect at the next pass.
#   MIB  MiB to free under the changed policy (200)
. /mnt/scenario-lib.sh
P=/sys/kernel/mm/page_hinting
MIB=${MIB:-200}

for f in delay_ms capacity order hwm; do
	echo "$f $(cat $P/$f)" >> $OUT/defaults
done
# file value: one line per attempt, "file value rc before after"
try() {
	before=$(cat $P/$1)
	if printf '%s' "$2" > $P/$1 2>/dev/null; then rc=0; else rc=1; fi
	echo "$1 '$2' $rc $before $(cat $P/$1)" >> $OUT/writes
}
for v in 0 33 -1 abc 4x 99999999999 " "; do try capacity "$v"; done
for v in 11 -1 x 4294967295; do try order "$v"; done
for v in 60001 -5 1.5; do try delay_ms "$v"; done
for v in -1 y; do try hwm "$v"; done
# good writes, then the policy the measured free runs under
for v in 16 32; do try capacity "$v"; done
try hwm 0

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
exit 0
