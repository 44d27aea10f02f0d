# stress: concurrent allocate/free churn at mixed orders, compaction
# and parameter changes while reporting runs, then the consistency
# check and the kpageflags scan against the counts.
#   STRESS_S  seconds of churn (60)
#   MIB       memory the churn holds at most (512)
. /mnt/scenario-lib.sh
STRESS_S=${STRESS_S:-60} MIB=${MIB:-512}

param delay_ms 0
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
	param capacity $((i % 32 + 1))
	param order $((9 + i % 2))
	param delay_ms $((i % 3 * 50))
	i=$((i + 1))
	sleep 0.3
done
wait $churn || exit 1
echo "$i" > $OUT/policy_changes
param delay_ms 2000; param capacity 32; param order 9
# One last pass on the default policy.
memhog -m 64 > /dev/null
sleep 5
cat /proc/vmstat > $OUT/vmstat.after
cat /proc/zoneinfo > $OUT/zoneinfo
cat /sys/kernel/debug/page_hinting/check > $OUT/check
# After the churn all high-order memory is reported: kpf_vs_zoneinfo
# frees 32 MiB unreported first, or every start of hintstat would split
# reported blocks.
kpf_vs_zoneinfo || exit 1
exit 0
