// ConnectionManager:1 for a server that only serves http-get: what it can send (GetProtocolInfo),
// and the one implicit connection 0 (UDA AV: PrepareForConnection is optional, so there are no others).
import { servedProtocolInfos } from '../media/dlna.js';
import { buildScpd } from './scpd.js';
import { UpnpError, type ActionArgs, type ActionResult, type UpnpService } from './service.js';

const SCPD = buildScpd(
  [
    {
      name: 'GetProtocolInfo',
      arguments: [
        { name: 'Source', direction: 'out', relatedStateVariable: 'SourceProtocolInfo' },
        { name: 'Sink', direction: 'out', relatedStateVariable: 'SinkProtocolInfo' },
      ],
    },
    { name: 'GetCurrentConnectionIDs', arguments: [{ name: 'ConnectionIDs', direction: 'out', relatedStateVariable: 'CurrentConnectionIDs' }] },
    {
      name: 'GetCurrentConnectionInfo',
      arguments: [
        { name: 'ConnectionID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_ConnectionID' },
        { name: 'RcsID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_RcsID' },
        { name: 'AVTransportID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_AVTransportID' },
        { name: 'ProtocolInfo', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_ProtocolInfo' },
        { name: 'PeerConnectionManager', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_ConnectionManager' },
        { name: 'PeerConnectionID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_ConnectionID' },
        { name: 'Direction', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Direction' },
        { name: 'Status', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_ConnectionStatus' },
      ],
    },
  ],
  [
    { name: 'SourceProtocolInfo', dataType: 'string', sendEvents: true },
    { name: 'SinkProtocolInfo', dataType: 'string', sendEvents: true },
    { name: 'CurrentConnectionIDs', dataType: 'string', sendEvents: true },
    { name: 'A_ARG_TYPE_ConnectionStatus', dataType: 'string', allowedValues: ['OK', 'ContentFormatMismatch', 'InsufficientBandwidth', 'UnreliableChannel', 'Unknown'] },
    { name: 'A_ARG_TYPE_ConnectionManager', dataType: 'string' },
    { name: 'A_ARG_TYPE_Direction', dataType: 'string', allowedValues: ['Input', 'Output'] },
    { name: 'A_ARG_TYPE_ProtocolInfo', dataType: 'string' },
    { name: 'A_ARG_TYPE_ConnectionID', dataType: 'i4' },
    { name: 'A_ARG_TYPE_AVTransportID', dataType: 'i4' },
    { name: 'A_ARG_TYPE_RcsID', dataType: 'i4' },
  ],
);

export interface ConnectionManagerOptions {
  /** Every protocolInfo the server serves; read on each call so an extended list shows at once. */
  protocolInfos?: () => readonly string[];
}

export function createConnectionManager(opts: ConnectionManagerOptions = {}): UpnpService {
  const source = () => (opts.protocolInfos ?? servedProtocolInfos)().join(',');
  return {
    name: 'ConnectionManager',
    type: 'urn:schemas-upnp-org:service:ConnectionManager:1',
    id: 'urn:upnp-org:serviceId:ConnectionManager',
    slug: 'cms',
    scpd: () => SCPD,
    handle(action: string, args: ActionArgs): ActionResult {
      switch (action) {
        case 'GetProtocolInfo':
          return { Source: source(), Sink: '' };
        case 'GetCurrentConnectionIDs':
          return { ConnectionIDs: '0' };
        case 'GetCurrentConnectionInfo': {
          const id = args.ConnectionID;
          if (id === undefined || !/^\s*[-+]?\d{1,10}\s*$/.test(id)) throw new UpnpError(402, 'ConnectionID must be an integer');
          if (Number(id) !== 0) throw new UpnpError(706);
          // The defaults ConnectionManager:1 gives for connection 0 when PrepareForConnection is not implemented.
          return { RcsID: -1, AVTransportID: -1, ProtocolInfo: '', PeerConnectionManager: '', PeerConnectionID: -1, Direction: 'Output', Status: 'OK' };
        }
        default:
          throw new UpnpError(401);
      }
    },
    eventedState: () => ({ SourceProtocolInfo: source(), SinkProtocolInfo: '', CurrentConnectionIDs: '0' }),
  };
}
