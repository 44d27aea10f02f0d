# balloon-rebind: the virtio-balloon driver unbound and bound again in
# the middle of reporting passes, ROUNDS times (fault injection: the
# reporting device goes away under a running pass and comes back).
# Each round frees MIB while the device is unbound (nothing reports it),
# binds it (registering starts reporting that memory, one 4 MiB block per
# device call, in several passes) and unbinds it again in the middle of
# that work.
#   ROUNDS  unbind/bind rounds (50)
#   MIB     MiB freed while unbound, each round (256)
#   DELAY_MS  reporting delay, also between a pass and its requeue (100)
# Out: rounds (rounds done), no_fill_in_10s (binds whose pass never
# began), trace.txt (with an
# "unbind N"/"bind N" trace marker each), vmstat.rebound and vmstat.end
# (before and after a last free on the rebound device), check (the
# series' debugfs check), zoneinfo-N-*/kpf-N.json (kpf_vs_zoneinfo).
. /mnt/scenario-lib.sh
ROUNDS=${ROUNDS:-50} MIB=${MIB:-256} DELAY_MS=${DELAY_MS:-100}
D=/sys/bus/virtio/drivers/virtio_balloon
dev=$(basename "$(readlink -f $D/virtio*)")
[ -e "$D/$dev" ] || { echo "no virtio_balloon device bound"; ls $D; exit 1; }
echo "$dev" > $OUT/device

events_on
param delay_ms "$DELAY_MS" || exit 1
param capacity 1 || exit 1
# The guest kernel is not preemptible, has one CPU (no ACPI: the MP
# table lists one) and the device takes a batch before the vCPU runs on
# (TCG), so a pass never gives the CPU up: userspace can only come in
# between passes. A pass reports a budget (a sixteenth of the free
# blocks per order) and requeues the rest DELAY_MS later: this shell,
# woken by the first fill through a trace instance of its own that only
# sees fills (builtin read, no fork), unbinds right after that first
# pass, with the device's work half done and its next pass queued.
# Consuming that instance's pipe leaves the main trace whole.
I=$T/instances/rebind
mkdir -p $I || exit 1
echo 1 > $I/events/page_hinting/page_hinting_fill/enable || exit 1

i=0 late=0
while [ $i -lt "$ROUNDS" ]; do
	echo "unbind $i" > $T/trace_marker
	echo "$dev" > $D/unbind || { echo "unbind $i failed"; exit 1; }
	memhog -m "$MIB" > /dev/null || exit 1
	echo > $I/trace
	echo "bind $i" > $T/trace_marker
	echo "$dev" > $D/bind || { echo "bind $i failed"; exit 1; }
	[ -e "$D/$dev" ] || { echo "$dev not bound after round $i"; exit 1; }
	# Reporting what was freed has begun: the next unbind lands in it.
	read -t 10 -r line < $I/trace_pipe || late=$((late + 1))
	i=$((i + 1))
done
echo "$i" > $OUT/rounds
echo "$late" > $OUT/no_fill_in_10s
echo 0 > $I/events/page_hinting/page_hinting_fill/enable
param capacity 32

# Reporting resumes on the rebound device: a last free is reported.
param delay_ms 2000
wait_idle "$(npasses)" 120 || exit 1
cat /proc/vmstat > $OUT/vmstat.rebound
n=$(npasses)
memhog -m 128 > /dev/null || exit 1
wait_idle "$n" 120 || exit 1
cat /proc/vmstat > $OUT/vmstat.end
cat $T/trace > $OUT/trace.txt
cat /sys/kernel/debug/page_hinting/check > $OUT/check
kpf_vs_zoneinfo || exit 1
exit 0
