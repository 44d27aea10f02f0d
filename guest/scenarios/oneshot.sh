# oneshot: allocate MIB, touch it, hold, free it, wait until free page
# reporting is idle, save the trace.
#   MIB      MiB to allocate (600)
#   HOLD_MS  hold the touched memory before freeing (3000)
#   EVENTS   1: record the page_hinting events (default), 0: leave them off
#   SETTLE   seconds to wait for reporting when events are off (20)
#   DELAY_MS if set, set as the series' delay_ms tunable
. /mnt/scenario-lib.sh
MIB=${MIB:-600} HOLD_MS=${HOLD_MS:-3000} EVENTS=${EVENTS:-1}

uname -r > $OUT/uname
if [ -n "$DELAY_MS" ]; then
	hinting_tunable delay_ms "$DELAY_MS" || exit 1
fi
has_events && echo 1 > $OUT/has_events
[ "$EVENTS" = 1 ] && events_on
# Boot-time reporting of the never-touched memory must be over before
# the measured free, or the two mix on the host and in the trace.
wait_idle 0 120 || exit 1
grep -s ' page_hinting_' $T/trace | wc -l > $OUT/events_before
n0=$( [ "$EVENTS" = 1 ] && npasses || echo 0)
cat /proc/vmstat > $OUT/vmstat.before
memhog -m "$MIB" -H "$HOLD_MS" -M $OUT > $OUT/memhog.json || exit 1
wait_idle "$n0" 300 || exit 1
echo done > $OUT/idle
cat /proc/vmstat > $OUT/vmstat.after
C=/sys/kernel/debug/page_hinting/check
[ -r $C ] && cat $C > $OUT/check
# Dumped with events off too: the tests check that nothing was recorded.
has_events && cat $T/trace > $OUT/trace.txt
cat /proc/meminfo > $OUT/meminfo
exit 0
