# host-bpftrace: hand the host the guest's page_hinting trace-event
# formats (so tests/test_bpftrace.py compiles the guest-side bpftrace
# scripts against this kernel's events) and free MIB once while the host
# runs tools/bpftrace/host_discards.bt on QEMU for real.
#   MIB       MiB to allocate, touch and free (131)
#   DELAY_MS  reporting delay, the series' delay_ms tunable (100)
# Out: tracefs/page_hinting/<event>/format, tracefs/available_events,
# vmstat.idle (reporting idle, no pass after it).
. /mnt/scenario-lib.sh
MIB=${MIB:-131} DELAY_MS=${DELAY_MS:-100}

hinting_tunable delay_ms "$DELAY_MS" || exit 1
mkdir -p $OUT/tracefs
grep '^page_hinting:' $T/available_events > $OUT/tracefs/available_events
for d in $T/events/page_hinting/page_hinting_*; do
	mkdir -p $OUT/tracefs/page_hinting/${d##*/}
	cat $d/format > $OUT/tracefs/page_hinting/${d##*/}/format || exit 1
done
events_on
wait_idle 0 120 || exit 1
n0=$(npasses)
memhog -m "$MIB" -M $OUT > $OUT/memhog.json || exit 1
wait_idle "$n0" 120 || exit 1
# No pass may start before the power-off: the host counted the VM's life.
freeze_reporting || exit 1
cat /proc/vmstat > $OUT/vmstat.idle
exit 0
