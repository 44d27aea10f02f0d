# host-cycles: several allocate/touch/free cycles while the host's
# hintstat host counts QEMU's discards, and the guest's hintstat -j
# streams its JSON lines to the host over virtio-serial
# (org.pagehint.hintstat, the runner's serial_socket).
#   MIB       MiB per cycle (311, a prime)
#   ROUNDS    allocate/touch/free cycles (3)
#   HOLD_MS   hold the touched memory before each free, longer than the
#             host's 1 s interval, so its RSS samples see the peak (2500)
#   PAUSE_MS  pause after each free, so reporting runs between (4000)
#   DELAY_MS  reporting delay, page_reporting_delay_ms (200)
#   GONE_S    seconds to stay up after the guest stream stopped (8)
# The same hintstat writes Prometheus text to textfile/guest.prom in the
# shared folder, for the host's node_exporter (its textfile collector).
# Out: vmstat.start, vmstat.idle (reporting idle at the end),
# vmstat.stream-start and vmstat.stream-stopped (the stream's window),
# memhog.json, stream.err, port, textfile/; markers stream-start,
# stream-stopped.
. /mnt/scenario-lib.sh
MIB=${MIB:-311} ROUNDS=${ROUNDS:-3} HOLD_MS=${HOLD_MS:-2500}
PAUSE_MS=${PAUSE_MS:-4000}
DELAY_MS=${DELAY_MS:-200} GONE_S=${GONE_S:-8}

param delay_ms "$DELAY_MS" || exit 1
events_on
cat /proc/vmstat > $OUT/vmstat.start
wait_idle 0 120 || exit 1

port=
for n in /sys/class/virtio-ports/*/name; do
	[ "$(cat "$n" 2>/dev/null)" = org.pagehint.hintstat ] || continue
	port=/dev/$(basename "$(dirname "$n")")
done
[ -n "$port" ] && [ -c "$port" ] || { echo "no virtio-serial port org.pagehint.hintstat"; exit 1; }
echo "$port" > $OUT/port

mkdir -p $OUT/textfile
# hintstat's own start frees memory and requests a pass, which could come
# after it attached and before vmstat.stream-start is read: counted by
# the stream, not the window (once in CI, 4 MiB). Reporting waits
# (freeze_reporting re-arms a queued pass) until the window is open.
freeze_reporting || exit 1
hintstat -j --prom $OUT/textfile/guest.prom 1 > "$port" 2> $OUT/stream.err &
HS=$!
i=0
until grep -q 'Tracing page hinting' $OUT/stream.err; do
	kill -0 $HS 2>/dev/null || { echo "hintstat exited early"; cat $OUT/stream.err; exit 1; }
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "hintstat did not attach in 60 s"; exit 1; }
	sleep 0.1
done
cat /proc/vmstat > $OUT/vmstat.stream-start
date +%s > $OUT/stream-start
param delay_ms "$DELAY_MS" || exit 1

n0=$(npasses)
memhog -m "$MIB" -r "$ROUNDS" -H "$HOLD_MS" -p "$PAUSE_MS" -M $OUT \
	> $OUT/memhog.json || exit 1
wait_idle "$n0" 300 || exit 1
sleep 2
# The guest stream stops (as on a guest crash or shutdown): the host
# must notice and keep running. Its exit frees memory too: the pass
# that asks for waits until the window is closed.
freeze_reporting || exit 1
kill -TERM $HS
wait $HS
echo $? > $OUT/stream.rc
cat /proc/vmstat > $OUT/vmstat.stream-stopped
date +%s > $OUT/stream-stopped
param delay_ms "$DELAY_MS" || exit 1
sleep "$GONE_S"
# No pass may start between here and the power-off: the host's totals
# cover the VM's whole life, and must equal the counts read next. The
# pass the stream's exit asked for has run by now; wait until nothing
# is pending (2 quiet s), not for a pass that may never come.
wait_settled 2 120 || exit 1
freeze_reporting || exit 1
cat /proc/vmstat > $OUT/vmstat.idle
cat $T/trace > $OUT/trace.txt
# The host's Prometheus scrapes every second: let it see the last totals.
sleep 3
exit 0
