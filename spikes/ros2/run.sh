#!/usr/bin/env bash
# Step 2/3: Rust (ros2-client/RustDDS) node <-> rclpy (rmw_fastrtps_cpp) peer,
# both inside one loopback-only network namespace. Exit 0 iff both sides
# report all directions OK. Logs: logs/rust.log, logs/py.log
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="$HERE/target/release/rosy_ros2_spike"
[ -x "$BIN" ] || "$HERE/build.sh"
mkdir -p "$HERE/logs"
exec "$HERE/netns.sh" bash -c '
  HERE="'"$HERE"'"; BIN="'"$BIN"'"
  source "$HERE/env.sh"
  echo "RMW_IMPLEMENTATION=$RMW_IMPLEMENTATION ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE ${FASTDDS_BUILTIN_TRANSPORTS:+FASTDDS_BUILTIN_TRANSPORTS=$FASTDDS_BUILTIN_TRANSPORTS}"
  start=$(date +%s.%N); export SPIKE_T0=$start
  echo "stagger=${STAGGER:-0}s py_first=${PY_FIRST:-0} (times below are seconds since both were launched)"
  if [ "${PY_FIRST:-0}" = 1 ]; then
    RUN_SECS=${RUN_SECS:-50} timeout 60 "$PY" "$HERE/py/peer.py" > "$HERE/logs/py.log" 2>&1 & P=$!
    sleep "${STAGGER:-0}"
    RUN_SECS=${RUN_SECS:-50} ROS_DOMAIN_ID=${RUST_ROS_DOMAIN_ID:-$ROS_DOMAIN_ID} RUST_LOG=${RUST_LOG:-warn} timeout 60 "$BIN" > "$HERE/logs/rust.log" 2>&1 & R=$!
  else
    RUN_SECS=${RUN_SECS:-50} ROS_DOMAIN_ID=${RUST_ROS_DOMAIN_ID:-$ROS_DOMAIN_ID} RUST_LOG=${RUST_LOG:-warn} timeout 60 "$BIN" > "$HERE/logs/rust.log" 2>&1 & R=$!
    sleep "${STAGGER:-0}"
    RUN_SECS=${RUN_SECS:-50} timeout 60 "$PY" "$HERE/py/peer.py" > "$HERE/logs/py.log" 2>&1 & P=$!
  fi
  wait $R; RC=$?; wait $P; PC=$?
  end=$(date +%s.%N)
  echo "----- rust (exit $RC) -----"; cat "$HERE/logs/rust.log"
  echo "----- rclpy (exit $PC) -----"; cat "$HERE/logs/py.log"
  printf "wall time %.1fs\n" "$(echo "$end - $start" | bc)"
  [ $RC = 0 ] && [ $PC = 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
  [ $RC = 0 ] && [ $PC = 0 ]'
