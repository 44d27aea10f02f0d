# clock: the guest's clock, for bench/clock_boots.py and the runner tests.
#   out/touched.1, freed.1  memhog's markers around a 1 s sleep (-H 1000):
#                           the guest's CLOCK_MONOTONIC in ns inside, the
#                           host's clock as their mtime (written over 9p)
#   out/clocksource         the clocksource the kernel runs on after it
#                           (tsc-early until the kernel's TSC work, about
#                           1 s after its initcalls, switches to tsc)
memhog -m 1 -H 1000 -M $OUT > /dev/null || exit 1
cat /sys/devices/system/clocksource/clocksource0/current_clocksource > $OUT/clocksource
