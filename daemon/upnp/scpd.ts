// Service descriptions (SCPD, UDA 1.0 §2.3) written from plain data, so each service states its
// actions and state variables once and the XML is always well-formed.
import { escapeXml } from './xml-text.js';

export interface ScpdArgument {
  name: string;
  direction: 'in' | 'out';
  relatedStateVariable: string;
}

export interface ScpdAction {
  name: string;
  arguments?: readonly ScpdArgument[];
}

export interface ScpdStateVariable {
  name: string;
  dataType: 'string' | 'ui4' | 'i4' | 'int' | 'boolean' | 'bin.base64' | 'uri';
  sendEvents?: boolean;
  allowedValues?: readonly string[];
  defaultValue?: string;
}

export function buildScpd(actions: readonly ScpdAction[], stateVariables: readonly ScpdStateVariable[]): string {
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<scpd xmlns="urn:schemas-upnp-org:service-1-0">',
    '  <specVersion>',
    '    <major>1</major>',
    '    <minor>0</minor>',
    '  </specVersion>',
    '  <actionList>',
  ];
  actionLines(actions, lines);
  lines.push('  </actionList>', '  <serviceStateTable>');
  variableLines(stateVariables, lines);
  lines.push('  </serviceStateTable>', '</scpd>', '');
  return lines.join('\n');
}

const ACTION_LIST_END = '\n  </actionList>\n';
const STATE_TABLE_END = '\n  </serviceStateTable>\n';

/**
 * An SCPD made by buildScpd with more actions and state variables at the end of their lists (a
 * service that offers some clients more than others, e.g. X_GetFeatureList for Samsung TVs).
 */
export function extendScpd(scpd: string, actions: readonly ScpdAction[], stateVariables: readonly ScpdStateVariable[]): string {
  const a = scpd.indexOf(ACTION_LIST_END);
  const v = scpd.indexOf(STATE_TABLE_END);
  if (a < 0 || v < a) throw new Error('extendScpd: not an SCPD made by buildScpd');
  const more = (fill: (into: string[]) => void) => {
    const lines: string[] = [];
    fill(lines);
    return lines.length ? `\n${lines.join('\n')}` : '';
  };
  return scpd.slice(0, a) + more((l) => actionLines(actions, l)) + scpd.slice(a, v) + more((l) => variableLines(stateVariables, l)) + scpd.slice(v);
}

function actionLines(actions: readonly ScpdAction[], lines: string[]): void {
  for (const a of actions) {
    lines.push('    <action>', `      <name>${escapeXml(a.name)}</name>`);
    if (a.arguments?.length) {
      lines.push('      <argumentList>');
      for (const arg of a.arguments) {
        lines.push(
          '        <argument>',
          `          <name>${escapeXml(arg.name)}</name>`,
          `          <direction>${arg.direction}</direction>`,
          `          <relatedStateVariable>${escapeXml(arg.relatedStateVariable)}</relatedStateVariable>`,
          '        </argument>',
        );
      }
      lines.push('      </argumentList>');
    }
    lines.push('    </action>');
  }
}

function variableLines(stateVariables: readonly ScpdStateVariable[], lines: string[]): void {
  for (const v of stateVariables) {
    lines.push(`    <stateVariable sendEvents="${v.sendEvents ? 'yes' : 'no'}">`, `      <name>${escapeXml(v.name)}</name>`, `      <dataType>${v.dataType}</dataType>`);
    if (v.defaultValue !== undefined) lines.push(`      <defaultValue>${escapeXml(v.defaultValue)}</defaultValue>`);
    if (v.allowedValues?.length) {
      lines.push('      <allowedValueList>', ...v.allowedValues.map((x) => `        <allowedValue>${escapeXml(x)}</allowedValue>`), '      </allowedValueList>');
    }
    lines.push('    </stateVariable>');
  }
}
