# pagefault: will-it-scale page_fault1-style throughput, REPS runs of
# SECONDS each over MIB (one JSON line per run in pagefault.json).
#   SECONDS (5)  MIB (128)  REPS (3)
SECONDS_=${SECONDS:-5} MIB=${MIB:-128} REPS=${REPS:-3}
i=0
while [ $i -lt "$REPS" ]; do
	memhog -f "$SECONDS_" -m "$MIB" >> $OUT/pagefault.json || exit 1
	i=$((i + 1))
done
exit 0
