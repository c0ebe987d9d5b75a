#!/usr/bin/python3
"""A real DNS-SD client for the mDNS tests (Debian's python3-zeroconf), bound to the phone's address.

  mdns-client.py browse ADDRESS TYPE...            print one JSON line per added/updated/removed service
  mdns-client.py register ADDRESS TYPE NAME PORT [cooperating]
                                                   hold a service of our own until stdin closes

Must run inside scripts/test-lan.sh: it only ever binds to the address it is given.
"""
import json
import os
import socket
import sys
import threading

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def txt_of(info):
    out = {}
    for k, v in (info.properties or {}).items():
        key = k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
        out[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


def browse(zc, types):
    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            emit({"event": "removed", "type": service_type, "name": name})
            return
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None:
            emit({"event": "unresolved", "type": service_type, "name": name})
            return
        emit({
            "event": "added" if state_change is ServiceStateChange.Added else "updated",
            "type": service_type,
            "name": name,
            "server": info.server,
            "port": info.port,
            "addresses": info.parsed_addresses(IPVersion.V4Only),
            "txt": txt_of(info),
        })

    ServiceBrowser(zc, types, handlers=[on_change])
    emit({"event": "browsing"})


def register(zc, address, type_, name, port, cooperating):
    info = ServiceInfo(
        type_,
        f"{name}.{type_}",
        addresses=[socket.inet_aton(address)],
        port=port,
        properties={"who": "test"},
        server="phone-test.local.",
    )
    # cooperating_responders skips zeroconf's own name check, so it claims a name hifid already holds.
    zc.register_service(info, cooperating_responders=cooperating)
    emit({"event": "registered", "name": info.name})
    return info


def main():
    if os.environ.get("HIFID_TEST_LAN") != "1":
        sys.exit("mdns-client.py: run inside scripts/test-lan.sh")
    mode, address = sys.argv[1], sys.argv[2]
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    info = None
    try:
        if mode == "browse":
            browse(zc, sys.argv[3:])
        elif mode == "register":
            info = register(zc, address, sys.argv[3], sys.argv[4], int(sys.argv[5]), len(sys.argv) > 6 and sys.argv[6] == "cooperating")
        else:
            sys.exit(f"unknown mode {mode}")
        # Run until the test closes stdin.
        done = threading.Event()

        def wait_stdin():
            sys.stdin.read()
            done.set()

        threading.Thread(target=wait_stdin, daemon=True).start()
        done.wait()
    finally:
        if info is not None:
            zc.unregister_service(info)
        zc.close()


if __name__ == "__main__":
    main()
