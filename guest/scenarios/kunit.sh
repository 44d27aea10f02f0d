# kunit: the page_reporting KUnit suite ran at boot (kunit.enable=1, no
# virtio-balloon); its KTAP output is in the kernel log init saves.
cat /proc/cmdline > $OUT/cmdline
exit 0
