#!/usr/bin/env bash
# One-time setup: rclpy (ROS 2 Jazzy, from PyPI) venv + Rust build. Everything nice'd.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
[ -x "$HERE/venv/bin/python" ] || python3 -m venv "$HERE/venv"
nice -n 19 "$HERE/venv/bin/pip" install "ros-jazzy-rclpy[fastrtps]==7.1.6" "ros-jazzy-std-msgs==5.3.6" "ros-jazzy-std-srvs==5.3.6"
"$HERE/build.sh"
