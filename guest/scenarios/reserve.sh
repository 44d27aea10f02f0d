# reserve: patch 10's policy (page_reporting_adaptive=1 and
# page_reporting_adaptive_reserve=1, delay 2000 ms). Churn that
# allocates reported memory again grows the reserve; once it stops,
# passes hold that much free memory back and report it as the reserve
# shrinks, a quarter per 2 s, until it is 0 and reporting idles. The
# churn holds less than a bulk free (1/16 of the memory: 64 MiB in
# 1 GiB), so its exit is not one, which would drop the reserve.
#   CHURN_S (16)  CHURN_MIB (48)
# Out: trace.txt (events, mono clock), memhog-churn.json, reserve
# ("uptime_s reserve_pages memfree_kib" every 0.1 s from the churn to
# the end), reserve-held (the reserve 1 s after the churn) with
# buddyinfo-held and zoneinfo-held read just after, vmstat.{0,1,2}
# (before the churn, then, at the end); markers held (with the guest's
# uptime) and settled (the host's RSS at each).
. /mnt/scenario-lib.sh
CHURN_S=${CHURN_S:-16} CHURN_MIB=${CHURN_MIB:-48}

[ -e $PR/page_reporting_adaptive_reserve ] ||
	{ echo "no page_reporting_adaptive_reserve parameter"; exit 1; }
events_on
param delay_ms 2000 || exit 1
param adaptive 1 || exit 1
param adaptive_reserve 1 || exit 1
wait_idle 0 120 || exit 1

while :; do
	echo "$(cut -d' ' -f1 /proc/uptime) $(param adaptive_reserve_pages)" \
		"$(awk '/^MemFree:/ { print $2 }' /proc/meminfo)"
	sleep 0.1
done > $OUT/reserve &
S=$!
cat /proc/vmstat > $OUT/vmstat.0
memhog -c "$CHURN_S" -m "$CHURN_MIB" -t 2 -s 7 > $OUT/memhog-churn.json || exit 1
# memhog's exit is reported at the next 100 ms step but for the
# reserve, held back from then on.
sleep 1
param adaptive_reserve_pages > $OUT/reserve-held
# What is held: free blocks (buddyinfo) less reported ones (zoneinfo)
cat /proc/buddyinfo > $OUT/buddyinfo-held
zi_reported > $OUT/zoneinfo-held
cat /proc/vmstat > $OUT/vmstat.1
cut -d' ' -f1 /proc/uptime > $OUT/held
# From at most a bulk free to 0 takes about 25 s.
i=0
until [ "$(param adaptive_reserve_pages)" = 0 ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && { echo "the reserve is not 0 after 120 s"; exit 1; }
	sleep 0.1
done
wait_settled 2 60 || exit 1
cat /proc/vmstat > $OUT/vmstat.2
echo > $OUT/settled
kill $S
cat $T/trace > $OUT/trace.txt
exit 0
