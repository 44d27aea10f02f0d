# adaptive: patch 9's policy (page_reporting_adaptive=1, delay 2000 ms).
# A bulk free is reported within the shortest delay's steps; churn that
# allocates reported memory again backs the delay off to
# page_reporting_delay_ms; a bulk free right after the churn, the delay
# still backed off, is reported soon all the same.
#   MIB (300)  CHURN_S (16)
# Out: trace.txt (events, mono clock), memhog-{first,churn,second}.json,
# delays ("uptime_s delay_ms memfree_kib" every 0.1 s during the churn),
# delay-second (the delay before the second bulk free), memtotal_kib,
# vmstat.churn.{0,1}.
. /mnt/scenario-lib.sh
MIB=${MIB:-300} CHURN_S=${CHURN_S:-16}

[ -e $PR/page_reporting_adaptive ] || { echo "no page_reporting_adaptive parameter"; exit 1; }
events_on
param delay_ms 2000 || exit 1
param adaptive 1 || exit 1
wait_idle 0 120 || exit 1
# a bulk free from a quiet guest
sleep 3
memhog -m "$MIB" > $OUT/memhog-first.json || exit 1
wait_idle "$(npasses)" 120 || exit 1

while :; do
	echo "$(cut -d' ' -f1 /proc/uptime) $(param adaptive_delay_ms)" \
		"$(awk '/^MemFree:/ { print $2 }' /proc/meminfo)"
	sleep 0.1
done > $OUT/delays &
S=$!
cat /proc/vmstat > $OUT/vmstat.churn.0
memhog -c "$CHURN_S" -m 400 -t 2 -s 7 > $OUT/memhog-churn.json || exit 1
cat /proc/vmstat > $OUT/vmstat.churn.1
kill $S
wait_idle "$(npasses)" 120 || exit 1

param adaptive_delay_ms > $OUT/delay-second
awk '/^MemTotal:/ { print $2 }' /proc/meminfo > $OUT/memtotal_kib
memhog -m "$MIB" > $OUT/memhog-second.json || exit 1
wait_idle "$(npasses)" 120 || exit 1
cat $T/trace > $OUT/trace.txt
exit 0
