#!/usr/bin/env bash
# Run CMD [ARGS...] as another host on the test LAN of scripts/test-lan.sh: in a
# fresh nested network namespace whose eth0 (address IP/24) is a veth plugged
# into the bridge hifi0. Unlike phone0, which shares the stereo's namespace,
# this host has its own addresses, ports and routes, as a real phone would.
# stdin/stdout/stderr are CMD's; the exit code is CMD's. The namespace and its
# veth vanish when CMD exits.
#
#   usage (inside scripts/test-lan.sh): scripts/lan-host.sh 10.77.0.N CMD [ARGS...]
#   HIFID_LAN_HOST=setup -> (internal) inside the nested namespace: wait for
#                           the veth, configure it, then exec CMD
set -euo pipefail

die() { echo "lan-host.sh: $*" >&2; exit 125; }
[ $# -ge 2 ] || die "usage: $0 10.77.0.N CMD [ARGS...]"
ip_addr=$1
shift
[[ $ip_addr =~ ^10\.77\.0\.([0-9]{1,3})$ ]] || die "IP must be 10.77.0.N, got '$ip_addr'"
n=${BASH_REMATCH[1]}
{ [ "$n" -ge 3 ] && [ "$n" -le 254 ]; } || die "10.77.0.1 and .2 are taken; N must be 3..254"
host_end=lh$n bridge_end=lh${n}b

if [ "${HIFID_LAN_HOST:-}" = setup ]; then
  # Refuse to touch anything unless this is a fresh namespace (lo, and our veth once it arrives).
  for _ in $(seq 100); do
    ip link show "$host_end" >/dev/null 2>&1 && break
    sleep 0.05
  done
  links=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
  [ "$links" = "$host_end lo " ] || die "not in a fresh namespace holding only lo and $host_end (saw: $links); refusing to configure"
  ip link set lo up
  ip link set "$host_end" name eth0
  ip addr add "$ip_addr/24" dev eth0
  ip link set eth0 multicast on up
  # No default route: multicast needs an explicit route to leave by.
  ip route add 224.0.0.0/4 dev eth0
  unset HIFID_LAN_HOST
  export HIFID_LAN_HOST_IP=$ip_addr
  exec "$@"
fi

# In the LAN namespace: the guard of test-lan.sh, so this never runs on a real network.
[ "${HIFID_TEST_LAN:-}" = 1 ] || die "run inside scripts/test-lan.sh"
ip -o -4 addr show dev hifi0 2>/dev/null | grep -q " 10.77.0.1/" || die "no bridge hifi0 with 10.77.0.1 here; refusing to run"

self=$(readlink -f "$0")
# stdin is given explicitly: a background job would otherwise read /dev/null.
HIFID_LAN_HOST=setup unshare -n -- "$self" "$ip_addr" "$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
# Move the veth only once the child has its own namespace, or it would stay here.
own_ns=$(readlink /proc/self/ns/net)
for _ in $(seq 100); do
  child_ns=$(readlink "/proc/$child/ns/net" 2>/dev/null) || die "the host process ended before its namespace was ready"
  [ "$child_ns" != "$own_ns" ] && break
  sleep 0.02
done
[ "$child_ns" != "$own_ns" ] || die "the host process did not get its own namespace"
# A namespace is torn down asynchronously: a previous host with this address may still hold the name.
ip link del "$bridge_end" 2>/dev/null || true
ip link add "$host_end" type veth peer name "$bridge_end"
# A bridge port carries frames only; no addresses of its own.
echo 1 > "/proc/sys/net/ipv6/conf/$bridge_end/disable_ipv6" 2>/dev/null || true
ip link set "$bridge_end" master hifi0
ip link set "$bridge_end" multicast on up
ip link set "$host_end" netns "$child"
set +e
wait "$child"
code=$?
# A trapped signal interrupts wait: wait again for the real exit code.
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  code=$?
done
ip link del "$bridge_end" 2>/dev/null || true
exit "$code"
