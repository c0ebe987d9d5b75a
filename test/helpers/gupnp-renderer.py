#!/usr/bin/python3
"""A UPnP MediaRenderer announced by a real third-party stack (GUPnP 1.6, Debian's gir1.2-gupnp-1.6).

  gupnp-renderer.py INTERFACE DESCRIPTION_DIR DESCRIPTION_FILE

Serves DESCRIPTION_DIR/DESCRIPTION_FILE (the device description the test wrote) on the interface's
address and announces it over SSDP (NOTIFY ssdp:alive, answers to M-SEARCH). Prints one JSON line
{"event": "ready", "location": …, "udn": …}. Reads commands on stdin, one a line:
  bye    -> set_available(False): GUPnP sends ssdp:byebye; prints {"event": "bye"}
  alive  -> set_available(True); prints {"event": "alive"}
It exits when stdin closes. Must run inside scripts/test-lan.sh.
"""
import json
import os
import sys
import warnings

import gi

gi.require_version('GUPnP', '1.6')
warnings.simplefilter('ignore', DeprecationWarning)  # Context.new: the simplest way to name an interface
from gi.repository import GLib, GUPnP  # noqa: E402


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def main():
    if os.environ.get('HIFID_TEST_LAN') != '1':
        sys.exit('gupnp-renderer.py: run inside scripts/test-lan.sh')
    iface, folder, doc = sys.argv[1], sys.argv[2], sys.argv[3]
    context = GUPnP.Context.new(iface, 0)
    device = GUPnP.RootDevice.new(context, doc, folder)
    device.set_available(True)
    loop = GLib.MainLoop()

    def on_stdin(channel, condition):
        if condition & (GLib.IOCondition.HUP | GLib.IOCondition.ERR):
            loop.quit()
            return False
        line = channel.readline()
        if line == '':
            loop.quit()
            return False
        cmd = line.strip()
        if cmd == 'bye':
            device.set_available(False)
            emit({'event': 'bye'})
        elif cmd == 'alive':
            device.set_available(True)
            emit({'event': 'alive'})
        return True

    channel = GLib.IOChannel.unix_new(sys.stdin.fileno())
    GLib.io_add_watch(channel, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR, on_stdin)
    emit({'event': 'ready', 'location': device.get_location(), 'udn': device.get_udn()})
    loop.run()


main()
