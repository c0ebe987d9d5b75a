// The UPnP device description (UDA 1.0 §2.1) of the MediaServer, as DLNA 1.5 DMS-1.50. Pure: the same
// inputs give the same bytes, which the golden-file test relies on.
import { escapeXml } from './xml-text.js';

export const MEDIA_SERVER_TYPE = 'urn:schemas-upnp-org:device:MediaServer:1';

/** Where each part of the UPnP surface lives; media-server.ts routes exactly these paths. */
export const UPNP_PATHS = {
  description: '/upnp/description.xml',
  scpd: (slug: string) => `/upnp/scpd/${slug}.xml`,
  control: (slug: string) => `/upnp/control/${slug}`,
  event: (slug: string) => `/upnp/event/${slug}`,
  icon: (file: string) => `/upnp/icons/${file}`,
} as const;

export interface IconInfo {
  file: string;
  mimetype: 'image/png' | 'image/jpeg';
  size: number;
  depth: number;
}

/** The icon files under daemon/upnp/icons/ (made by scripts/make-icons.sh). */
export const ICONS: readonly IconInfo[] = [
  // The sizes and formats DLNA devices look for: 48 and 120 px, PNG (with alpha) and JPEG.
  { file: 'icon-48.png', mimetype: 'image/png', size: 48, depth: 32 },
  { file: 'icon-120.png', mimetype: 'image/png', size: 120, depth: 32 },
  { file: 'icon-48.jpg', mimetype: 'image/jpeg', size: 48, depth: 24 },
  { file: 'icon-120.jpg', mimetype: 'image/jpeg', size: 120, depth: 24 },
];

export interface DescribedService {
  type: string;
  id: string;
  slug: string;
}

export interface DescriptionInput {
  /** 'uuid:…' */
  udn: string;
  friendlyName: string;
  version: string;
  services: readonly DescribedService[];
  icons?: readonly IconInfo[];
  /** DLNA device capabilities (X_DLNACAP), e.g. audio-upload; the element is left out when empty. */
  dlnaCaps?: readonly string[];
}

/** UDA allows up to 64 characters; the UUID's hex digits are stable and unique per installation. */
export function serialNumberOf(udn: string): string {
  return udn.replace(/^uuid:/, '').replace(/[^0-9a-fA-F]/g, '').toUpperCase().slice(0, 32);
}

export function deviceDescription(input: DescriptionInput): string {
  const icons = input.icons ?? ICONS;
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<root xmlns="urn:schemas-upnp-org:device-1-0">',
    '  <specVersion>',
    '    <major>1</major>',
    '    <minor>0</minor>',
    '  </specVersion>',
    '  <device>',
    `    <deviceType>${MEDIA_SERVER_TYPE}</deviceType>`,
    // The DLNA device class; its namespace is declared on the element itself so the element stands
    // alone wherever a control point looks for it.
    '    <dlna:X_DLNADOC xmlns:dlna="urn:schemas-dlna-org:device-1-0">DMS-1.50</dlna:X_DLNADOC>',
    ...(input.dlnaCaps?.length ? [`    <dlna:X_DLNACAP xmlns:dlna="urn:schemas-dlna-org:device-1-0">${escapeXml(input.dlnaCaps.join(','))}</dlna:X_DLNACAP>`] : []),
    `    <friendlyName>${escapeXml(input.friendlyName)}</friendlyName>`,
    '    <manufacturer>hifid project</manufacturer>',
    '    <modelDescription>Home-stereo music server</modelDescription>',
    '    <modelName>hifid</modelName>',
    `    <modelNumber>${escapeXml(input.version)}</modelNumber>`,
    `    <serialNumber>${serialNumberOf(input.udn)}</serialNumber>`,
    `    <UDN>${escapeXml(input.udn)}</UDN>`,
    '    <iconList>',
    ...icons.flatMap((i) => [
      '      <icon>',
      `        <mimetype>${i.mimetype}</mimetype>`,
      `        <width>${i.size}</width>`,
      `        <height>${i.size}</height>`,
      `        <depth>${i.depth}</depth>`,
      `        <url>${UPNP_PATHS.icon(i.file)}</url>`,
      '      </icon>',
    ]),
    '    </iconList>',
    '    <serviceList>',
    ...input.services.flatMap((s) => [
      '      <service>',
      `        <serviceType>${escapeXml(s.type)}</serviceType>`,
      `        <serviceId>${escapeXml(s.id)}</serviceId>`,
      `        <SCPDURL>${UPNP_PATHS.scpd(s.slug)}</SCPDURL>`,
      `        <controlURL>${UPNP_PATHS.control(s.slug)}</controlURL>`,
      `        <eventSubURL>${UPNP_PATHS.event(s.slug)}</eventSubURL>`,
      '      </service>',
    ]),
    '    </serviceList>',
    // The web page; relative, so it resolves against whichever address the client used.
    '    <presentationURL>/</presentationURL>',
    '  </device>',
    '</root>',
    '',
  ];
  return lines.join('\n');
}
