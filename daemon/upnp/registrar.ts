// X_MS_MediaReceiverRegistrar:1: Xbox and Windows Media Player ask for it, and LG webOS TVs did not list
// a server without it (anacrolix/dms#78). Everyone is authorised: access is decided by the network, as
// for every other UPnP request.
import { buildScpd } from './scpd.js';
import { UpnpError, type ActionResult, type UpnpService } from './service.js';

const SCPD = buildScpd(
  [
    {
      name: 'IsAuthorized',
      arguments: [
        { name: 'DeviceID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_DeviceID' },
        { name: 'Result', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Result' },
      ],
    },
    {
      name: 'RegisterDevice',
      arguments: [
        { name: 'RegistrationReqMsg', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_RegistrationReqMsg' },
        { name: 'RegistrationRespMsg', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_RegistrationRespMsg' },
      ],
    },
    {
      name: 'IsValidated',
      arguments: [
        { name: 'DeviceID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_DeviceID' },
        { name: 'Result', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Result' },
      ],
    },
  ],
  [
    { name: 'A_ARG_TYPE_DeviceID', dataType: 'string' },
    { name: 'A_ARG_TYPE_Result', dataType: 'int' },
    { name: 'A_ARG_TYPE_RegistrationReqMsg', dataType: 'bin.base64' },
    { name: 'A_ARG_TYPE_RegistrationRespMsg', dataType: 'bin.base64' },
    { name: 'AuthorizationGrantedUpdateID', dataType: 'ui4', sendEvents: true },
    { name: 'AuthorizationDeniedUpdateID', dataType: 'ui4', sendEvents: true },
    { name: 'ValidationSucceededUpdateID', dataType: 'ui4', sendEvents: true },
    { name: 'ValidationRevokedUpdateID', dataType: 'ui4', sendEvents: true },
  ],
);

export function createRegistrar(): UpnpService {
  return {
    name: 'X_MS_MediaReceiverRegistrar',
    type: 'urn:microsoft.com:service:X_MS_MediaReceiverRegistrar:1',
    id: 'urn:microsoft.com:serviceId:X_MS_MediaReceiverRegistrar',
    slug: 'msr',
    scpd: () => SCPD,
    // The in-arguments are not checked: the answer is the same for every device, clients differ in what
    // they send (an empty DeviceID is common), and MiniDLNA ignores them too.
    handle(action: string): ActionResult {
      switch (action) {
        case 'IsAuthorized':
        case 'IsValidated':
          return { Result: 1 };
        case 'RegisterDevice':
          return { RegistrationRespMsg: '' };
        default:
          throw new UpnpError(401);
      }
    },
    eventedState: () => ({ AuthorizationGrantedUpdateID: 0, AuthorizationDeniedUpdateID: 0, ValidationSucceededUpdateID: 0, ValidationRevokedUpdateID: 0 }),
  };
}
