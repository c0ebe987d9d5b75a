// The one shape every UPnP service has: handle(action, args, request) → out-arguments or a UPnP error.
// soap.ts turns UpnpError into a SOAP fault in one place.

/** UPnP error codes used by our services (UDA 1.1 §3.3, ContentDirectory:1 §2.6). */
export const UPNP_ERRORS = {
  401: 'Invalid Action',
  402: 'Invalid Args',
  501: 'Action Failed',
  701: 'No such object',
  706: 'Invalid connection reference', // ConnectionManager:1, GetCurrentConnectionInfo
  708: 'Unsupported or invalid search criteria',
  709: 'Unsupported or invalid sort criteria',
  710: 'No such container',
  711: 'Restricted object',
  712: 'Bad metadata',
  713: 'Restricted parent object',
  714: 'No such source resource',
  715: 'Source resource access denied',
  717: 'No such file transfer',
  718: 'No such destination resource',
  720: 'Cannot process the request',
} as const;

export type UpnpErrorCode = keyof typeof UPNP_ERRORS;

export class UpnpError extends Error {
  constructor(
    readonly code: UpnpErrorCode,
    description?: string,
  ) {
    super(description ?? UPNP_ERRORS[code]);
    this.name = 'UpnpError';
  }
}

/** What a service may know about the request: who asks, and on which local address it arrived. */
export interface UpnpRequestInfo {
  remoteAddress: string;
  localAddress: string;
  localPort: number;
  /** lower-cased request headers */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Base URL for links in answers, built from the address the request came in on. */
  baseUrl: string;
}

export type ActionArgs = Readonly<Record<string, string>>;
export type ActionResult = Record<string, string | number>;

export interface UpnpService {
  /** e.g. 'ContentDirectory' */
  readonly name: string;
  /** e.g. 'urn:schemas-upnp-org:service:ContentDirectory:1' */
  readonly type: string;
  /** e.g. 'urn:upnp-org:serviceId:ContentDirectory' */
  readonly id: string;
  /** Path segment used in control, event and SCPD URLs, e.g. 'cds' */
  readonly slug: string;
  /** The SCPD XML document; `req`, when given, is the client asking (a renderer profile may be offered more actions). */
  scpd(req?: UpnpRequestInfo): string;
  handle(action: string, args: ActionArgs, req: UpnpRequestInfo): Promise<ActionResult> | ActionResult;
  /** Evented state variables now (for the initial GENA event); empty if the service has none. */
  eventedState(): Record<string, string | number>;
  /**
   * Calls `listener` with the evented variables that changed (e.g. SystemUpdateID and
   * ContainerUpdateIDs after a catalogue change). events.ts moderates per subscriber. Returns unsubscribe.
   */
  onEvent?(listener: (changed: Record<string, string | number>) => void): () => void;
}
