#!/usr/bin/env bash
# Runs run.sh under several environment variants; one line per variant + logs/matrix-*.txt
HERE="$(cd "$(dirname "$0")" && pwd)"
run() { local name=$1; shift
  local s=$(date +%s.%N)
  env "$@" "$HERE/run.sh" > "$HERE/logs/matrix-$name.txt" 2>&1; local rc=$?
  printf "%-28s exit=%s  %5.1fs  %s\n" "$name" $rc "$(echo "$(date +%s.%N) - $s" | bc)" \
    "$(grep -E 'PY SUMMARY' "$HERE/logs/matrix-$name.txt" | sed 's/.*PY SUMMARY: //' | cut -c1-150)"
}
"$HERE/build.sh" >/dev/null 2>&1 || { echo build failed; exit 1; }
run default-1
run default-2
run default-3
run py-late-5s            STAGGER=5
run rust-late-5s          STAGGER=5 PY_FIRST=1
run range-localhost       ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
run localhost-only-legacy ROS_LOCALHOST_ONLY=1
run fastdds-udp-only      FASTDDS_BUILTIN_TRANSPORTS=UDPv4
run fastdds-shm-only      FASTDDS_BUILTIN_TRANSPORTS=SHM RUN_SECS=20
run fastdds-large-data      FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA RUN_SECS=20
run domain-mismatch       RUST_ROS_DOMAIN_ID=43 RUN_SECS=15
