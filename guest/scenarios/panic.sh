# panic: the guest's kernel panics while it reports and its hintstat
# streams to the host (fault injection): a free starts reporting, and
# once a pass has begun the scenario asks init to exit (guest/init), so
# the kernel panics with the pass, memhog and the stream in flight.
#   MIB       MiB to allocate, touch and free (256)
#   DELAY_MS  reporting delay (0: a pass at once)
# Out: port, stream.err, stream.json; markers stream-start, panicking.
. /mnt/scenario-lib.sh
MIB=${MIB:-256} DELAY_MS=${DELAY_MS:-0}

param delay_ms "$DELAY_MS" || exit 1
events_on
port=$(hintstat_port) || exit 1
echo "$port" > $OUT/port
# A copy of the stream here: the panic waits for two lines sent.
hintstat -j 1 2> $OUT/stream.err | tee $OUT/stream.json > "$port" &
i=0
until [ -f $OUT/stream.json ] && [ "$(wc -l < $OUT/stream.json)" -ge 2 ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "no hintstat lines in 60 s"; cat $OUT/stream.err; exit 1; }
	sleep 0.1
done
date +%s > $OUT/stream-start
f=$(grep -c ' page_hinting_fill:' $T/trace)
memhog -m "$MIB" -r 100 -p 200 > /dev/null &
i=0
until [ "$(grep -c ' page_hinting_fill:' $T/trace)" -gt "$f" ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "no pass within 60 s"; exit 1; }
	sleep 0.1
done
date +%s > $OUT/panicking
touch /tmp/pagehint-panic
exit 0
