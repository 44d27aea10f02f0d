# pagefault: will-it-scale page_fault1-style throughput, REPS runs of
# SECONDS each over MIB (one JSON line per run in pagefault.json).
#   SECONDS (5)  MIB (128)  REPS (3)
#   HINTSTAT  1: run `hintstat -j` (events on, BPF attached) meanwhile,
#             to measure what the tool costs the workload
#   EVENTS    1: every page_hinting event on in tracefs, no reader: what
#             the events cost by themselves
. /mnt/scenario-lib.sh
SECONDS_=${SECONDS:-5} MIB=${MIB:-128} REPS=${REPS:-3}
[ "${EVENTS:-0}" = 1 ] && events_on
if [ "${HINTSTAT:-0}" = 1 ]; then
	hintstat -j 1 > $OUT/hintstat.json 2> $OUT/hintstat.err &
	HS=$!
	i=0
	until grep -q 'Tracing page hinting' $OUT/hintstat.err; do
		kill -0 $HS 2>/dev/null || { cat $OUT/hintstat.err; exit 1; }
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "hintstat did not attach in 60 s"; exit 1; }
		sleep 0.1
	done
fi
i=0
while [ $i -lt "$REPS" ]; do
	memhog -f "$SECONDS_" -m "$MIB" >> $OUT/pagefault.json || exit 1
	i=$((i + 1))
done
if [ -n "$HS" ]; then
	kill -TERM $HS
	wait $HS || { echo "hintstat failed"; cat $OUT/hintstat.err; exit 1; }
fi
exit 0
