# Helpers shared by the guest scenarios (sourced; busybox sh).
T=/sys/kernel/tracing

has_events() { [ -d $T/events/page_hinting ]; }

# Record the page_hinting events on CLOCK_MONOTONIC, the clock memhog's
# markers use, so events and phases line up.
events_on() {
	has_events || { echo "kernel has no page_hinting events"; exit 1; }
	echo mono > $T/trace_clock
	echo 16384 > $T/buffer_size_kb
	echo 1 > $T/events/page_hinting/enable
}

npasses() { grep -c ' page_hinting_pass:' $T/trace; }

# The virtio-serial port the host reads the guest's stream from
# (org.pagehint.hintstat, the runner's serial_socket): its /dev path.
hintstat_port() {
	for n in /sys/class/virtio-ports/*/name; do
		[ "$(cat "$n" 2>/dev/null)" = org.pagehint.hintstat ] || continue
		p=/dev/$(basename "$(dirname "$n")")
		[ -c "$p" ] && { echo "$p"; return 0; }
	done
	echo "no virtio-serial port org.pagehint.hintstat" >&2
	return 1
}

# The series' runtime tunables (delay_ms, capacity, order, hwm), the one
# place that knows where they live: print one ($1), or set it ($1 $2).
# v1 of the series has /sys/kernel/mm/page_hinting/NAME, v2 module
# parameters page_reporting_NAME (mainline's page_reporting_order too).
hinting_tunable() {
	f=/sys/kernel/mm/page_hinting/$1
	[ -e "$f" ] || f=/sys/module/page_reporting/parameters/page_reporting_$1
	if [ $# = 1 ]; then cat "$f"; else echo "$2" > "$f"; fi
}

# The series' exact counts (zoneinfo "reported", blocks per order) and
# hintstat's /proc/kpageflags scan (--mode workqueue, reported_now),
# read back to back into $OUT/zoneinfo-N-{before,after} and kpf-N.json.
# Starting hintstat allocates and its exit frees, which can unflag a
# reported block: a try whose two readings differ is taken again.
zi_reported() { grep -E '^Node|^ +reported' /proc/zoneinfo; }
kpf_vs_zoneinfo() {
	for n in 1 2 3 4 5; do
		zi_reported > $OUT/zoneinfo-$n-before
		hintstat --mode workqueue -j 0.2 1 > $OUT/kpf-$n.json 2> $OUT/kpf-$n.err ||
			{ cat $OUT/kpf-$n.err; return 1; }
		zi_reported > $OUT/zoneinfo-$n-after
		cmp -s $OUT/zoneinfo-$n-before $OUT/zoneinfo-$n-after && return 0
	done
	return 0
}

# Wait until free page reporting is idle: with events, until a pass that
# started after the $1-th one ended without requeueing and no pass
# followed for a second, or no pass at all came for 8 s (passes follow
# each other 2 s apart while there is work); without events, a fixed
# $SETTLE seconds. Gives up after $2 s.
wait_idle() {
	after=$1 limit=$2 waited=0 quiet=0 last=-1
	if ! [ "$(cat $T/events/page_hinting/page_hinting_pass/enable 2>/dev/null)" = 1 ]; then
		sleep "${SETTLE:-20}"
		return 0
	fi
	while [ "$waited" -lt "$limit" ]; do
		n=$(npasses)
		if [ "$n" = "$last" ]; then
			quiet=$((quiet + 1))
		else
			quiet=0 last=$n
		fi
		if [ "$n" -gt "$after" ] && [ "$quiet" -ge 1 ] &&
		   grep ' page_hinting_pass:' $T/trace | tail -n 1 | grep -q 'requeued=0'; then
			return 0
		fi
		[ "$quiet" -ge 8 ] && return 0
		sleep 1
		waited=$((waited + 1))
	done
	echo "free page reporting still busy after $limit s"
	return 1
}

# Make the counts read next final for the rest of the boot (the host
# compares them with what it saw over the VM's whole life): the longest
# delay (60 s; the VM powers off long before), then wait out a pass
# already queued with the old delay (a request made after the last idle
# wait, e.g. by a process exiting).
freeze_reporting() {
	old=$(hinting_tunable delay_ms)
	hinting_tunable delay_ms 60000 || return 1
	n=$(npasses)
	sleep $((old / 1000 + 2))
	while [ "$(npasses)" != "$n" ]; do
		n=$(npasses)
		sleep 2
	done
}
