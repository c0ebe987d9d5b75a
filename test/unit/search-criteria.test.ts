// The SearchCriteria parser: the UDA grammar, precedence, escapes, real client strings and 708s.
import assert from 'node:assert/strict';
import { parseSearchCriteria, type SearchExpr } from '../../daemon/upnp/search-criteria.js';
import { UpnpError } from '../../daemon/upnp/service.js';

/** A compact rendering of the AST, so expectations read like the criteria. */
function show(e: SearchExpr): string {
  switch (e.kind) {
    case 'all':
      return '*';
    case 'and':
    case 'or':
      return `(${show(e.left)} ${e.kind} ${show(e.right)})`;
    case 'compare':
      return `${e.property} ${e.op} ${JSON.stringify(e.value)}`;
    case 'exists':
      return `${e.property} exists ${e.value}`;
  }
}

function fails708(criteria: string): void {
  assert.throws(() => parseSearchCriteria(criteria), (err: unknown) => err instanceof UpnpError && err.code === 708, criteria);
}

describe('search criteria', () => {
  it('reads * and empty as everything', () => {
    assert.equal(show(parseSearchCriteria('*')), '*');
    assert.equal(show(parseSearchCriteria('  ')), '*');
  });

  it('reads every operator', () => {
    for (const op of ['=', '!=', '<', '<=', '>', '>=']) assert.equal(show(parseSearchCriteria(`dc:date ${op} "2001"`)), `dc:date ${op} "2001"`);
    assert.equal(show(parseSearchCriteria('dc:title contains "x"')), 'dc:title contains "x"');
    assert.equal(show(parseSearchCriteria('dc:title doesNotContain "x"')), 'dc:title doesNotContain "x"');
    assert.equal(show(parseSearchCriteria('upnp:class derivedfrom "object.item"')), 'upnp:class derivedfrom "object.item"');
    assert.equal(show(parseSearchCriteria('upnp:genre exists true')), 'upnp:genre exists true');
    assert.equal(show(parseSearchCriteria('@refID exists false')), '@refID exists false');
  });

  it('binds and tighter than or, left to right, and honours parentheses', () => {
    assert.equal(show(parseSearchCriteria('dc:title = "a" or dc:title = "b" and dc:title = "c"')), '(dc:title = "a" or (dc:title = "b" and dc:title = "c"))');
    assert.equal(show(parseSearchCriteria('(dc:title = "a" or dc:title = "b") and dc:title = "c"')), '((dc:title = "a" or dc:title = "b") and dc:title = "c")');
    assert.equal(show(parseSearchCriteria('dc:title = "a" and dc:title = "b" and dc:title = "c"')), '((dc:title = "a" and dc:title = "b") and dc:title = "c")');
  });

  it('unescapes \\" and \\\\ in quoted values and keeps other text as is', () => {
    const e = parseSearchCriteria('dc:title = "say \\"hi\\" \\\\ (ok) and or"');
    assert.equal(e.kind === 'compare' && e.value, 'say "hi" \\ (ok) and or');
    const u = parseSearchCriteria('upnp:artist = "Björk 🎵"');
    assert.equal(u.kind === 'compare' && u.value, 'Björk 🎵');
  });

  it('reads real control-point criteria', () => {
    // BubbleUPnP (search in all fields)
    assert.equal(
      show(parseSearchCriteria('(upnp:class derivedfrom "object.item.audioItem" and (dc:title contains "love" or upnp:artist contains "love"))')),
      '(upnp:class derivedfrom "object.item.audioItem" and (dc:title contains "love" or upnp:artist contains "love"))',
    );
    // BubbleUPnP album search
    assert.equal(show(parseSearchCriteria('upnp:class = "object.container.album.musicAlbum" and dc:title contains "x"')), '(upnp:class = "object.container.album.musicAlbum" and dc:title contains "x")');
    // Windows Media Player
    assert.equal(
      show(parseSearchCriteria('upnp:class derivedfrom "object.item.audioItem" and @refID exists false')),
      '(upnp:class derivedfrom "object.item.audioItem" and @refID exists false)',
    );
    // Kodi
    assert.equal(
      show(parseSearchCriteria('(upnp:class = "object.container.album.musicAlbum") and (upnp:artist = "Artist 0042")')),
      '(upnp:class = "object.container.album.musicAlbum" and upnp:artist = "Artist 0042")',
    );
    // Xbox / WMP spelling and letter case, no spaces around =
    assert.equal(show(parseSearchCriteria('upnp:class derivedFrom "object.item.audioItem" AND dc:title="x"')), '(upnp:class derivedfrom "object.item.audioItem" and dc:title = "x")');
    assert.equal(show(parseSearchCriteria('upnp:genre exists TRUE')), 'upnp:genre exists true');
  });

  it('refuses broken or unsupported criteria with 708', () => {
    for (const bad of [
      'dc:title',
      'dc:title contains',
      'dc:title contains x',
      'dc:title contains "x',
      'dc:title contains "x" and',
      'and dc:title = "x"',
      '(dc:title = "x"',
      'dc:title = "x")',
      'dc:title == "x"',
      'dc:title ! "x"',
      'dc:title like "x"',
      'dc:title exists maybe',
      'dc:title = "x" xor dc:title = "y"',
      'dc:title = "a\\x"',
      'upnp:rating = "5"',
      'res@size > "10"',
      '* and dc:title = "x"',
      'dc:title = "x" dc:title = "y"',
      '()',
      `${'('.repeat(200)}dc:title = "x"${')'.repeat(200)}`,
      `dc:title = "${'x'.repeat(5000)}"`,
    ]) fails708(bad);
  });
});
