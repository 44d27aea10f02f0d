# hintstat-stock: hintstat's fallback mode on a kernel without the
# pagehint series (Debian's stock 6.12), while memhog frees MIB, so the
# host can compare the bytes hintstat saw reported with the bytes QEMU
# discarded over the same window.
#   MIB       MiB to allocate, touch and free (523: a prime)
#   HOLD_MS   hold the touched memory before freeing (1000)
#   QUIET     seconds without a pass that mean reporting is idle (8)
# Out: hintstat.json (-j -e, fentry), workqueue.rec and workqueue.json
# (a record --mode workqueue and its live view, attached first, stopped last), hintstat.rec (record, kprobe) and
# record.json (its live -j view), watch.json, *.rc, *.err; markers
# window-start and window-end (the host timestamps them; window-start
# holds the count of hintstat.json's interval lines before the window).
. /mnt/scenario-lib.sh
MIB=${MIB:-523} HOLD_MS=${HOLD_MS:-1000} QUIET=${QUIET:-8}

uname -r > $OUT/uname
has_events && { echo "this scenario wants a kernel without the series"; exit 1; }

attached() { grep -q 'Tracing page hinting\|Recording page hinting' "$1"; }
wait_attached() {	# $1 pid, $2 stderr file
	i=0
	until attached "$2"; do
		kill -0 "$1" 2>/dev/null || { echo "hintstat exited early"; cat "$2"; exit 1; }
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "hintstat did not attach in 60 s"; exit 1; }
		sleep 0.1
	done
}
# Passes in each interval line of a hintstat -j file, one a line.
passes() { grep '"interval_s"' "$1" | sed 's/^[^}]*"passes":\([0-9]*\),.*/\1/'; }
# Idle: QUIET intervals in a row without a pass (after $2 passes in all).
idle_in() {
	[ "$(passes "$1" | wc -l)" -ge "$QUIET" ] || return 1
	[ "$(passes "$1" | awk '{ s += $1 } END { print s + 0 }')" -ge "$2" ] || return 1
	[ "$(passes "$1" | tail -n "$QUIET" | awk '{ s += $1 } END { print s + 0 }')" = 0 ]
}
wait_idle_json() {	# $1 file, $2 passes wanted first, $3 limit in s
	i=0
	until idle_in "$1" "$2"; do
		i=$((i + 1))
		[ $i -gt "$3" ] && { echo "reporting still busy after $3 s"; exit 1; }
		sleep 1
	done
}

# Boot-time reporting of never-touched memory must be over before the
# window: a watcher sees QUIET seconds without a pass.
hintstat -j 1 > $OUT/watch.json 2> $OUT/watch.err &
W=$!
wait_attached $W $OUT/watch.err
wait_idle_json $OUT/watch.json 0 180
kill -TERM $W
wait $W
echo $? > $OUT/watch.rc
grep -o 'mode: .*' $OUT/watch.err > $OUT/mode

# The window: hintstat in auto mode (fentry on this kernel) and a record
# forced to kprobes, both attached before it starts, stopped after it.
hintstat record -o $OUT/workqueue.rec --mode workqueue -j 1 \
	> $OUT/workqueue.json 2> $OUT/workqueue.err &
Q=$!
wait_attached $Q $OUT/workqueue.err
hintstat record -o $OUT/hintstat.rec --mode kprobe -j 1 \
	> $OUT/record.json 2> $OUT/record.err &
R=$!
wait_attached $R $OUT/record.err
hintstat -j -e 1 > $OUT/hintstat.json 2> $OUT/hintstat.err &
H=$!
wait_attached $H $OUT/hintstat.err
# The watcher's exit and each hintstat's start free memory, and a pass
# reports it 2 s later: once it came after the fentry run attached and
# before the host saw window-start, so hintstat counted 4 MiB the host's
# window did not. Wait until that is over (QUIET intervals without a
# pass), and start the window after the interval lines printed so far:
# window-start holds their count, the tests take totals from there.
wait_idle_json $OUT/hintstat.json 0 180
grep -c '"interval_s"' $OUT/hintstat.json > $OUT/window-start
before=$(passes $OUT/hintstat.json | awk '{ s += $1 } END { print s + 0 }')

memhog -m "$MIB" -H "$HOLD_MS" -M $OUT > $OUT/memhog.json || exit 1
wait_idle_json $OUT/hintstat.json $((before + 1)) 300

echo end > $OUT/window-end
kill -TERM $H
wait $H
echo $? > $OUT/hintstat.rc
kill -TERM $R
wait $R
echo $? > $OUT/record.rc
# A last interval after the others stopped: what is reported at the end.
sleep 1.5
kill -TERM $Q
wait $Q
echo $? > $OUT/workqueue.rc
hintstat report $OUT/hintstat.rec -j > $OUT/report.json 2> $OUT/report.err
echo $? > $OUT/report.rc

# --prom :PORT, fetched with busybox wget; then a path that is not there.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hintstat --prom :9669 -d 30 > /dev/null 2> $OUT/prom.err &
P=$!
wait_attached $P $OUT/prom.err
wget -O $OUT/metrics.txt http://127.0.0.1:9669/metrics 2> $OUT/wget.err
echo $? > $OUT/wget.rc
wget -O /dev/null http://127.0.0.1:9669/nothing 2> $OUT/wget404.err
echo $? > $OUT/wget404.rc
kill -TERM $P
wait $P
echo $? > $OUT/prom.rc
exit 0
