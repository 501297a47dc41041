#!/bin/sh
# Reruns this limitcheck run (as root), into a new run directory under reports/.
# Command: limitcheck vm --kernel /root/.cache/limitcheck/vmlinux/vmlinux-6.1.0-48-amd64-8222656-1778839109 --cpus 3 --topology cores=4 /tmp/.tmpX2dX9O/hog.toml
# The scenario files are the copies in scenarios/ beside this script, as they were.
here=$(cd "$(dirname "$0")" && pwd)
bin=${LIMITCHECK:-/work/main/target/debug/limitcheck}
exec "$bin" vm --kernel /root/.cache/limitcheck/vmlinux/vmlinux-6.1.0-48-amd64-8222656-1778839109 --cgroup v2 --accel auto --memory 2147483648 --cpus 3 --topology sockets=1,cores=4,threads=1,nodes=1 "$here"/scenarios/hog.toml
