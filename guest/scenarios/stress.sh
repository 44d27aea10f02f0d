# stress: concurrent allocate/free churn at mixed orders, compaction
# and tunable changes while reporting runs, then the consistency check.
#   STRESS_S  seconds of churn (60)
#   MIB       memory the churn holds at most (512)
. /mnt/scenario-lib.sh
P=/sys/kernel/mm/page_hinting
STRESS_S=${STRESS_S:-60} MIB=${MIB:-512}

echo 0 > $P/delay_ms
cat /proc/vmstat > $OUT/vmstat.before
memhog -c "$STRESS_S" -m "$MIB" -t 4 -s 7 > $OUT/churn.json &
churn=$!
# Compaction migrates pages around reported free blocks.
( while kill -0 $churn 2>/dev/null; do
	echo 1 > /proc/sys/vm/compact_memory; sleep 2
  done ) &
# Policy changes while passes run.
i=0
while kill -0 $churn 2>/dev/null; do
	echo $((i % 32 + 1)) > $P/capacity
	echo $((9 + i % 2)) > $P/order
	echo $((i % 3)) > $P/hwm
	i=$((i + 1))
	sleep 0.3
done
wait $churn || exit 1
echo "$i" > $OUT/policy_changes
echo 2000 > $P/delay_ms; echo 32 > $P/capacity; echo 9 > $P/order; echo 0 > $P/hwm
# One last pass on the default policy.
memhog -m 64 > /dev/null
sleep 5
cat /proc/vmstat > $OUT/vmstat.after
cat /proc/zoneinfo > $OUT/zoneinfo
cat /sys/kernel/debug/page_hinting/check > $OUT/check
exit 0
