# hintstat: run hintstat next to the tracefs page_hinting events while
# memhog frees MIB, so the host can compare the two over the same window.
#   MIB       MiB to allocate, touch and free (523, a prime: no round
#             number can match by chance)
#   HOLD_MS   hold the touched memory before freeing (1000)
#   INTERVAL  hintstat's interval in seconds (1)
#   FALLBACK  1: also run hintstat in the fallback mode (--mode fentry)
#             over the same window, to fallback.json (0)
# Out: hintstat.json (-j -e -S: intervals, events, BPF run time),
# workqueue.json (--mode workqueue over the same window), kpf-N.json and
# zoneinfo-N (its kpageflags scan and the series' counts, back to back),
# hintstat.rec (record), record.json (its live view), report.json,
# hintstat.txt (-H -Z -T: tables, histograms per zone), hintstat.prom,
# trace.txt, *.rc, *.err.
. /mnt/scenario-lib.sh
MIB=${MIB:-523} HOLD_MS=${HOLD_MS:-1000} INTERVAL=${INTERVAL:-1}
FALLBACK=${FALLBACK:-0}

uname -r > $OUT/uname
events_on
# Boot-time reporting of never-touched memory is over before the window.
wait_idle 0 120 || exit 1

# Usage errors in the guest too: exit 2, a line and a hint.
hintstat --interval=-1 > $OUT/badarg.out 2> $OUT/badarg.err
echo $? > $OUT/badarg.rc

# hintstat reports every interval since it attached; the window starts
# once all are attached, with an empty trace. No pass may run between
# the first attach and the emptied trace: the first hintstat would count
# a pass the trace misses. Waiting for reporting to settle first was not
# enough (CI, twice): the hintstats' own start frees memory, and its pass
# came 2 s later, before the last of five had attached under TCG. So the
# delay is held at its longest while they start (which re-arms a pass
# already queued), and set back once the trace is emptied: a pass
# requested meanwhile then runs inside the window, seen by both.
wait_settled 2 60 || exit 1
DELAY=$(param delay_ms)
freeze_reporting || exit 1
hintstat -j -e -S --prom $OUT/hintstat.prom "$INTERVAL" \
	> $OUT/hintstat.json 2> $OUT/hintstat.err &
HS_JSON=$!
hintstat -H -Z -T "$INTERVAL" > $OUT/hintstat.txt 2> $OUT/hintstat-text.err &
HS_TEXT=$!
# A record of the same window: report must print the live totals.
hintstat record -o $OUT/hintstat.rec -j "$INTERVAL" > $OUT/record.json \
	2> $OUT/record.err &
HS_REC=$!
# The tracepoint-only mode over the same window: its passes come from
# the workqueue tracepoints, the trace's from page_hinting_pass.
hintstat -j --mode workqueue "$INTERVAL" > $OUT/workqueue.json \
	2> $OUT/workqueue.err &
HS_WQ=$!
ERRS="$OUT/hintstat.err $OUT/hintstat-text.err $OUT/record.err $OUT/workqueue.err"
HS_FB=
if [ "$FALLBACK" = 1 ]; then
	hintstat -j --mode fentry "$INTERVAL" > $OUT/fallback.json \
		2> $OUT/fallback.err &
	HS_FB=$!
	ERRS="$ERRS $OUT/fallback.err"
fi
all_attached() {
	for f in $ERRS; do
		grep -q 'Tracing page hinting\|Recording page hinting' $f || return 1
	done
}
i=0
until all_attached; do
	for p in $HS_JSON $HS_TEXT $HS_REC $HS_WQ $HS_FB; do
		kill -0 $p 2>/dev/null && continue
		echo "hintstat exited early"
		cat $ERRS
		exit 1
	done
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "hintstat did not attach in 60 s"; exit 1; }
	sleep 0.1
done
echo > $T/trace
date +%s > $OUT/window-start
param delay_ms "$DELAY" || { echo "delay_ms $DELAY refused"; exit 1; }

memhog -m "$MIB" -H "$HOLD_MS" -M $OUT > $OUT/memhog.json || exit 1
# The free requested a pass that runs after the reporting delay; passes
# seen so far (during the allocation) must not end the wait.
n0=$(npasses)
wait_idle "$n0" 300 || exit 1
# wait_idle can return while a request made after the last pass still
# waits out the reporting delay; the window ends once the last event is
# a pass that did not requeue and nothing followed for 3 s.
last_is_final_pass() {
	grep ' page_hinting_' $T/trace | tail -n 1 |
		grep -q ' page_hinting_pass: .*requeued=0'
}
i=0 same=0 prev=-1
while [ "$same" -lt 3 ]; do
	n=$(grep -c ' page_hinting_' $T/trace)
	if [ "$n" = "$prev" ] && last_is_final_pass; then
		same=$((same + 1))
	else
		same=0
	fi
	prev=$n i=$((i + 1))
	[ $i -gt 120 ] && { echo "reporting did not settle in 120 s"; exit 1; }
	sleep 1
done
echo done > $OUT/idle

# Both print their last (partial) interval on SIGTERM and exit 0.
kill -TERM $HS_JSON $HS_TEXT $HS_REC $HS_WQ $HS_FB
wait $HS_JSON
echo $? > $OUT/hintstat.rc
wait $HS_WQ
echo $? > $OUT/workqueue.rc
wait $HS_TEXT
echo $? > $OUT/hintstat-text.rc
wait $HS_REC
echo $? > $OUT/record.rc
if [ -n "$HS_FB" ]; then
	wait $HS_FB
	echo $? > $OUT/fallback.rc
fi
hintstat report $OUT/hintstat.rec -j > $OUT/report.json 2> $OUT/report.err
echo $? > $OUT/report.rc
cat $T/trace > $OUT/trace.txt

# The kpageflags scan against the series' exact counts.
kpf_vs_zoneinfo || exit 1
exit 0
