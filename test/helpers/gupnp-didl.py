#!/usr/bin/python3
# Reads a DIDL-Lite document on stdin with GUPnP-AV's parser (a real third-party DIDL reader, Debian's
# gir1.2-gupnp-av-1.0) and prints what it understood as JSON. Used by the integration tests.
import json
import sys
import warnings

import gi

gi.require_version('GUPnPAV', '1.0')
from gi.repository import GUPnPAV  # noqa: E402

warnings.simplefilter('ignore', DeprecationWarning)  # get_artist: still what renderers call

out = {'items': [], 'containers': []}


def resource(r):
    pi = r.get_protocol_info()
    return {
        'uri': r.get_uri(),
        'protocolInfo': pi.to_string() if pi else None,
        'mime': pi.get_mime_type() if pi else None,
        'profile': pi.get_dlna_profile() if pi else None,
        'duration': r.get_duration(),
        'size': r.get_size64(),
        'bitrate': r.get_bitrate(),
        'sampleFreq': r.get_sample_freq(),
        'channels': r.get_audio_channels(),
        'bitsPerSample': r.get_bits_per_sample(),
        'importUri': r.get_import_uri(),
    }


def on_item(_parser, item):
    out['items'].append({
        'id': item.get_id(),
        'parentId': item.get_parent_id(),
        'refId': item.get_ref_id(),
        'title': item.get_title(),
        'artist': item.get_artist(),
        'creator': item.get_creator(),
        'album': item.get_album(),
        'genre': item.get_genre(),
        'date': item.get_date(),
        'trackNumber': item.get_track_number(),
        'upnpClass': item.get_upnp_class(),
        'albumArt': item.get_album_art(),
        'resources': [resource(r) for r in item.get_resources()],
        'restricted': item.get_restricted(),
        'dlnaManaged': int(item.get_dlna_managed()),
    })


def on_container(_parser, c):
    out['containers'].append({
        'id': c.get_id(),
        'parentId': c.get_parent_id(),
        'title': c.get_title(),
        'upnpClass': c.get_upnp_class(),
        'childCount': c.get_child_count(),
        'searchable': c.get_searchable(),
        'restricted': c.get_restricted(),
        'dlnaManaged': int(c.get_dlna_managed()),
        'createClasses': [{'upnpClass': cc.get_content(), 'includeDerived': cc.get_include_derived()} for cc in c.get_create_classes_full()],
    })


parser = GUPnPAV.DIDLLiteParser()
parser.connect('item-available', on_item)
parser.connect('container-available', on_container)
parser.parse_didl(sys.stdin.read())
print(json.dumps(out, ensure_ascii=False))
