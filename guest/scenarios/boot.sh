# boot: reach userspace, report kernel facts, power off.
uname -r > $OUT/uname
[ -d /sys/kernel/tracing/events/page_hinting ] && echo 1 > $OUT/has_events
cat /proc/cmdline > $OUT/cmdline
exit 0
