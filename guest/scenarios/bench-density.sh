# bench-density: one guest of the density experiment. Touch MIB, free
# it, then stay up (idle, as a guest that is done with its burst) until
# the host creates stop in the share, or HOLD_S seconds.
#   MIB (800)  HOLD_S (600)
. /mnt/scenario-lib.sh
MIB=${MIB:-800} HOLD_S=${HOLD_S:-600}
uname -r > $OUT/uname
memhog -m "$MIB" -M $OUT > $OUT/memhog.json || exit 1
i=0
while [ ! -e /mnt/stop ] && [ $i -lt $((HOLD_S * 10)) ]; do
	sleep 0.1
	i=$((i + 1))
done
exit 0
