#!/usr/bin/env bash
# Step 1: rclpy talker -> rclpy listener on /chatter, inside a loopback-only netns.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/netns.sh" bash -c '
  source "'"$HERE"'/env.sh"
  echo "netns addrs: $(ip -brief addr | tr "\n" " ")"
  echo "RMW_IMPLEMENTATION=$RMW_IMPLEMENTATION ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE"
  RUN_SECS=40 timeout 60 "$PY" "'"$HERE"'/py/talker.py" & T=$!
  RUN_SECS=30 WANT=5 timeout 60 "$PY" "'"$HERE"'/py/listener.py"; L=$?
  kill -INT $T 2>/dev/null; wait $T 2>/dev/null
  echo "step1 listener exit=$L"; exit $L'
