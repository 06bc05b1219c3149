#!/usr/bin/env bash
# Run "$@" inside a fresh network namespace that holds only loopback
# (multicast enabled, 224.0.0.0/4 routed to lo). Nothing leaves the machine.
set -euo pipefail
exec unshare -n bash -c '
  ip link set lo up
  ip link set lo multicast on
  ip route add 224.0.0.0/4 dev lo
  exec "$@"' netns "$@"
