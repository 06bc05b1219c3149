# Common environment for the spike (sourced by the run scripts).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PY="$HERE/venv/bin/python"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
# Jazzy default is SUBNET; inside the loopback-only netns that is just lo.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-SUBNET}"
export PYTHONUNBUFFERED=1
# ros2-client compares this with the distro it was built for (feature "jazzy"); unset => a WARN.
export ROS_DISTRO="${ROS_DISTRO:-jazzy}"
