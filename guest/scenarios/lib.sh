# Helpers shared by the guest scenarios (sourced; busybox sh).
T=/sys/kernel/tracing
# The series' parameters: delay_ms, capacity, order (page_reporting_*).
PR=/sys/module/page_reporting/parameters
param() {	# param NAME [VALUE]: print it, or set it (non-zero when refused)
	if [ $# = 1 ]; then
		cat $PR/page_reporting_$1
	else
		printf '%s' "$2" 2>/dev/null > $PR/page_reporting_$1
	fi
}

has_events() { [ -d $T/events/page_hinting ]; }

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

# Record the page_hinting events on CLOCK_MONOTONIC, the clock memhog's
# markers use, so events and phases line up.
events_on() {
	has_events || { echo "kernel has no page_hinting events"; exit 1; }
	echo mono > $T/trace_clock
	echo 16384 > $T/buffer_size_kb
	echo 1 > $T/events/page_hinting/enable
}

npasses() { grep -c ' page_hinting_pass:' $T/trace; }

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

# Wait until no pass is pending: the trace's last request or pass event
# is a pass that did not requeue (a request after the last pass still
# waits out the delay), and no page_hinting event came for $1 s. Gives up
# after $2 s.
wait_settled() {
	need=$(($1 * 2)) left=$(($2 * 2)) quiet=0 last=-1
	while [ "$left" -gt 0 ]; do
		n=$(grep -c ' page_hinting_' $T/trace)
		if [ "$n" = "$last" ]; then
			quiet=$((quiet + 1))
		else
			quiet=0 last=$n
		fi
		if [ "$quiet" -ge "$need" ] &&
		   ! grep ' page_hinting_\(request\|pass\):' $T/trace | tail -n 1 |
		   grep -q 'page_hinting_request:\|requeued=1'; then
			return 0
		fi
		sleep 0.5
		left=$((left - 1))
	done
	echo "free page reporting not settled after $2 s"
	return 1
}

# Make the counts read next final for the rest of the boot (the host
# compares them with what it saw over the VM's whole life): the longest
# delay (60 s; the VM powers off long before), which also re-arms a pass
# already queued, then wait out a pass that is running.
freeze_reporting() {
	param delay_ms 60000 || return 1
	n=$(npasses)
	sleep 1
	while [ "$(npasses)" != "$n" ]; do
		n=$(npasses)
		sleep 1
	done
}

# The workqueue mode's kpageflags scan against the series' exact counts
# (zoneinfo "reported", blocks per order), read just before and after
# it, into $OUT/kpf-N.json and zoneinfo-N-{before,after}. Reporting is
# frozen first: with no pass, a reported count can only fall (a block
# allocated, split or merged), so equal readings mean the reported
# blocks did not change during the scan. A pass in the middle could
# report new blocks behind the scan while hintstat's own start took as
# many from ahead of it, the counts equal and the scan short (it did,
# with 100 ms passes). Then 32 MiB freed unreported, for hintstat's own
# allocations to take before any reported block; starting hintstat
# allocates and its exit frees, which can still unflag a reported block:
# a try whose two readings differ is taken again (8 tries). Reporting
# stays frozen after (callers end there).
kpf_vs_zoneinfo() {
	freeze_reporting || return 1
	memhog -m 32 > /dev/null || return 1
	for n in 1 2 3 4 5 6 7 8; do
		zi_reported > $OUT/zoneinfo-$n-before
		hintstat --mode workqueue --exact-orders -j 0.2 1 \
			> $OUT/kpf-$n.json \
			2> $OUT/kpf-$n.err || { cat $OUT/kpf-$n.err; return 1; }
		zi_reported > $OUT/zoneinfo-$n-after
		cmp -s $OUT/zoneinfo-$n-before $OUT/zoneinfo-$n-after && return 0
	done
}
zi_reported() { grep -E '^Node|^ +reported' /proc/zoneinfo; }
