# bench-hint: the hint-throughput benchmark's guest side, one boot, with
# hintstat attached the whole time (tracepoints on the pagehint kernel,
# its fentry/kprobe fallback on a stock one).
# Phases, each after free page reporting went quiet:
#   oneshot  memhog frees MIB at once (marker freed.1)
#   churn    CHURN_S seconds of memhog churn over CHURN_MIB
#            (markers churn-start, churn-end), then CHURN_TAIL s (10)
#   frag     memhog -F: many order-0 frees, a few 4 MiB blocks, then
#            the rest (markers frag-freed.1, frag-rest.1)
#   compile  COMPILE_S seconds of memhog -C (COMPILE_JOBS processes at a
#            time, each growing to 16..COMPILE_MIB MiB and exiting), then
#            COMPILE_TAIL s (markers compile-start, compile-end)
# Parameters:
#   PHASES       which phases, in order ("oneshot churn frag")
#   MIB (600)  CHURN_S (10)  CHURN_MIB (400)  FRAG_MIB (240)  HOLD_MS (2000)
#   FRAG_HOLD_MS (5000): between the fragmented free and the rest
#   DELAY_MS CAPACITY ORDER ADAPTIVE ADAPTIVE_RESERVE   policy, the
#                page_reporting_* module parameters, set when given
#                (pagehint kernel)
#   INTERVAL     hintstat's interval (0.5 s)
#   QUIET        seconds without hinted bytes that mean reporting is idle (4)
#   NOHINT       seconds after which a phase that hinted nothing is over (8)
#   COMPILE_S (60)  COMPILE_MIB (192)  COMPILE_JOBS (3)  COMPILE_TAIL (10)
# Out: hintstat.json (-j -S), vmstat.<phase>.{0,1}, memhog-<phase>.json,
# memused.<phase> (churn, compile: "uptime_s used_kib [delay_ms]" every
# 0.2 s: the guest's own MemTotal - MemFree, and the adaptive policy's
# current delay and reserve in pages where the kernel has them), policy,
# uname, mode.
. /mnt/scenario-lib.sh
PHASES=${PHASES:-oneshot churn frag}
MIB=${MIB:-600} CHURN_S=${CHURN_S:-10} CHURN_MIB=${CHURN_MIB:-400}
FRAG_MIB=${FRAG_MIB:-240} HOLD_MS=${HOLD_MS:-2000} FRAG_HOLD_MS=${FRAG_HOLD_MS:-5000}
INTERVAL=${INTERVAL:-0.5} QUIET=${QUIET:-4} NOHINT=${NOHINT:-8} CHURN_TAIL=${CHURN_TAIL:-10}
COMPILE_S=${COMPILE_S:-60} COMPILE_MIB=${COMPILE_MIB:-192} COMPILE_JOBS=${COMPILE_JOBS:-3}
COMPILE_TAIL=${COMPILE_TAIL:-10}

uname -r > $OUT/uname
mkdir -p /tmp
for t in delay_ms:$DELAY_MS capacity:$CAPACITY order:$ORDER adaptive:$ADAPTIVE \
	 adaptive_reserve:$ADAPTIVE_RESERVE; do
	f=${t%%:*} v=${t#*:}
	[ -z "$v" ] && continue
	[ -w $PR/page_reporting_$f ] || { echo "no page_reporting_$f parameter: not the pagehint kernel"; exit 1; }
	param $f "$v" || { echo "cannot set $f=$v"; exit 1; }
done
if [ -e $PR/page_reporting_delay_ms ]; then
	for f in delay_ms capacity order adaptive adaptive_reserve; do
		if [ -e $PR/page_reporting_$f ]; then echo "$f=$(param $f)"; fi
	done > $OUT/policy
fi

hintstat -j -S "$INTERVAL" > $OUT/hintstat.json 2> $OUT/hintstat.err &
HS=$!
i=0
until grep -qs 'Tracing page hinting' $OUT/hintstat.err; do
	kill -0 $HS 2>/dev/null || { echo "hintstat exited early"; cat $OUT/hintstat.err; exit 1; }
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "hintstat did not attach in 60 s"; exit 1; }
	sleep 0.1
done
grep 'mode:' $OUT/hintstat.err > $OUT/mode

# Hinted bytes of each interval line, one a line (the first "bytes" of a
# line is the interval's own; the totals come after a '}').
ibytes() { grep '"interval_s"' $OUT/hintstat.json | sed 's/^[^}]*"bytes":\([0-9]*\),.*/\1/'; }
# Idle, after the interval lines counted in $1: something was hinted
# since and the last QUIET seconds of intervals hinted nothing, or
# nothing at all was hinted for NOHINT seconds.
wait_quiet() {	# $1 lines before, $2 limit in s
	n=$(awk -v q="$QUIET" -v i="$INTERVAL" 'BEGIN { n = q / i; print (n == int(n)) ? n : int(n) + 1 }')
	none=$(awk -v q="$NOHINT" -v i="$INTERVAL" 'BEGIN { print int(q / i) }')
	w=0
	while :; do
		ibytes | tail -n +$(($1 + 1)) > /tmp/ib
		got=$(wc -l < /tmp/ib)
		sum=$(awk '{ s += $1 } END { print s + 0 }' /tmp/ib)
		if [ "$got" -ge "$n" ] && [ "$sum" != 0 ] &&
		   [ "$(tail -n "$n" /tmp/ib | awk '{ s += $1 } END { print s + 0 }')" = 0 ]; then
			return 0
		fi
		[ "$sum" = 0 ] && [ "$got" -ge "$none" ] && return 0
		w=$((w + 1))
		[ $w -gt "$2" ] && { echo "reporting still busy after $2 s"; exit 1; }
		sleep 1
	done
}
nlines() { ibytes | wc -l; }
# The guest's own used memory, the ideal the host's RSS is compared
# with: what a perfect hinting would leave resident.
memused() {	# $1 phase
	ad=$PR/page_reporting_adaptive_delay_ms
	ar=$PR/page_reporting_adaptive_reserve_pages
	while :; do
		awk -v t="$(cut -d' ' -f1 /proc/uptime)" -v d="$(cat $ad 2>/dev/null)" \
		    -v r="$(cat $ar 2>/dev/null)" '
			/^MemTotal:/ { tot = $2 } /^MemFree:/ { free = $2 }
			END { print t, tot - free, d, r }' /proc/meminfo
		sleep 0.2
	done > $OUT/memused.$1 &
	MU=$!
}

# Boot-time reporting of never-touched memory is over first.
wait_quiet 0 180
for ph in $PHASES; do
	cat /proc/vmstat > $OUT/vmstat.$ph.0
	case $ph in
	oneshot)
		memhog -m "$MIB" -H "$HOLD_MS" -M $OUT > $OUT/memhog-oneshot.json || exit 1
		L0=$(nlines) ;;
	churn)
		memused churn
		echo > $OUT/churn-start
		memhog -c "$CHURN_S" -m "$CHURN_MIB" -t 2 -s 7 > $OUT/memhog-churn.json || exit 1
		echo > $OUT/churn-end
		L0=$(nlines)
		# A fixed tail, so the footprint window is the same everywhere.
		sleep "$CHURN_TAIL"
		kill $MU ;;
	compile)
		memused compile
		echo > $OUT/compile-start
		memhog -C "$COMPILE_S" -m "$COMPILE_MIB" -t "$COMPILE_JOBS" -s 7 \
			> $OUT/memhog-compile.json || exit 1
		echo > $OUT/compile-end
		L0=$(nlines)
		sleep "$COMPILE_TAIL"
		kill $MU ;;
	frag)
		memhog -F -m "$FRAG_MIB" -H "$FRAG_HOLD_MS" -M $OUT > $OUT/memhog-frag.json || exit 1
		L0=$(nlines) ;;
	*)
		echo "unknown phase $ph"; exit 1 ;;
	esac
	# Lines written before the phase's last free can only be zero
	# (the workload held its memory), so count from its end.
	wait_quiet "$L0" 300
	echo > $OUT/quiet-$ph
	cat /proc/vmstat > $OUT/vmstat.$ph.1
done
kill -TERM $HS
wait $HS || { echo "hintstat failed"; cat $OUT/hintstat.err; exit 1; }
exit 0
