#!/usr/bin/env bash
# Run CMD [ARGS...] inside a throwaway private network namespace holding a
# fake LAN: a bridge hifi0 (10.77.0.1, "the stereo") with one port, the veth
# pair phone0p <-> phone0 (10.77.0.2, "a phone"). SSDP/mDNS tests can then
# multicast freely without ever touching the machine's real interfaces. The
# namespace dies with CMD. scripts/lan-host.sh adds further hosts, each in its
# own nested namespace, as more ports of the same bridge (one L2 segment, so
# link-local multicast such as LocalSend's 224.0.0.167 reaches them).
#
#   HIFID_TEST_LAN unset   -> re-exec this script under unshare (phase "setup")
#   HIFID_TEST_LAN=setup   -> (internal) build the LAN, then exec CMD
#   HIFID_TEST_LAN=1       -> already inside: just exec CMD
set -euo pipefail

STEREO=10.77.0.1 PHONE=10.77.0.2 IFACE=hifi0
die() { echo "test-lan.sh: $*" >&2; exit 125; }
[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"

case "${HIFID_TEST_LAN:-}" in
'')
  self=$(readlink -f "$0")
  # Root can create a bare network namespace. Otherwise (or if root lacks
  # CAP_SYS_ADMIN, e.g. in a container) use a user namespace too: we appear as
  # root inside it, with CAP_NET_ADMIN over the new network namespace only.
  # Probe first so a failure is explained instead of a cryptic unshare error.
  if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    HIFID_TEST_LAN=setup exec unshare -n -- "$self" "$@"
  elif unshare -rn true 2>/dev/null; then
    HIFID_TEST_LAN=setup exec unshare -rn -- "$self" "$@"
  fi
  die "cannot create a private network namespace: 'unshare -n' needs root
  (CAP_SYS_ADMIN) and 'unshare -rn' needs unprivileged user namespaces (see
  sysctls kernel.unprivileged_userns_clone, user.max_user_namespaces,
  kernel.apparmor_restrict_unprivileged_userns). Is util-linux installed?"
  ;;
setup)
  # Safety net: refuse to reconfigure anything unless this really is a fresh
  # namespace (only "lo"), so a stray HIFID_TEST_LAN=setup can never add
  # routes or interfaces on the host.
  [ "$(ip -o link show | awk -F': ' '{print $2}')" = lo ] ||
    die "not in a fresh network namespace; refusing to configure"
  ip link set lo up
  # No snooping: the bridge floods every multicast to every port, as a dumb
  # switch does, so no IGMP querier is needed. No STP: ports forward at once.
  ip link add hifi0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0
  ip link add phone0 type veth peer name phone0p
  ip link set phone0p master hifi0
  # A bridge port carries frames only; no addresses of its own.
  echo 1 > /proc/sys/net/ipv6/conf/phone0p/disable_ipv6
  ip addr add "$STEREO/24" dev hifi0
  ip addr add "$PHONE/24" dev phone0
  # veth has MULTICAST on by default; set it explicitly since SSDP depends on it.
  ip link set hifi0 multicast on up
  ip link set phone0p multicast on up
  ip link set phone0 multicast on up
  # No default route here, so multicast needs an explicit route to leave by.
  ip route add 224.0.0.0/4 dev hifi0
  # Both ends live in one namespace, so a datagram from 10.77.0.2 arriving on
  # hifi0 has a *local* source address and is dropped as martian unless
  # accept_local is on (per-namespace sysctl; does not affect the host).
  for c in all default hifi0 phone0 phone0p; do
    echo 1 > "/proc/sys/net/ipv4/conf/$c/accept_local"
  done
  ;;
1)
  # Guard against HIFID_TEST_LAN=1 leaking into a real-network shell.
  ip -o -4 addr show dev hifi0 2>/dev/null | grep -q " $STEREO/" ||
    die "HIFID_TEST_LAN=1 but no $IFACE/$STEREO here; refusing to run on a real network"
  ;;
*) die "unexpected HIFID_TEST_LAN='$HIFID_TEST_LAN'" ;;
esac

export HIFID_TEST_LAN=1 HIFID_TEST_LAN_STEREO=$STEREO \
  HIFID_TEST_LAN_PHONE=$PHONE HIFID_TEST_LAN_IFACE=$IFACE
exec "$@"   # exec keeps CMD's exit code (and PID) as ours
