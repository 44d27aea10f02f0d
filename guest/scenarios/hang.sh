# hang: never finish (the runner's timeout and teardown tests use it).
echo hanging > $OUT/hanging
exec sleep 100000
