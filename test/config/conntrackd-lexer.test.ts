import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ipv6Length, lexConntrackd, type Token } from '../../src/config/conntrackd/lexer.js';

const kinds = (text: string): string[] =>
  lexConntrackd(text, 'f')
    .filter((t) => t.kind !== 'eof')
    .map((t) => `${t.kind}:${t.text}`);

const at = (t: Token): string => `${t.loc.line}:${t.loc.col}`;

describe('conntrackd lexer: the token rules of conntrackd 1.4.7', () => {
  it('reads reserved words case-sensitively; aliases keep their spelling and map to their word', () => {
    assert.deepEqual(kinds('HashSize hashsize HashSizeX'), ['word:HashSize', 'string:hashsize', 'string:HashSizeX']);
    const [alias, close] = lexConntrackd('SocketBufferSizeMaxGrown CLOSE', 'f');
    assert.deepEqual(alias?.kind === 'word' && [alias.word, alias.text], ['NetlinkBufferSizeMaxGrowth', 'SocketBufferSizeMaxGrown']);
    assert.deepEqual(close?.kind === 'word' && close.word, 'CLOSED');
  });

  it('reads booleans and mode names in any case, but not with "|" (a bracket-expression slip in conntrackd)', () => {
    assert.deepEqual(kinds('on OFF Yes nO'), ['bool:on', 'bool:OFF', 'bool:Yes', 'bool:nO']);
    assert.deepEqual(kinds('onion none'), ['string:onion', 'string:none']);
    assert.deepEqual(kinds('o|'), ['string:o', 'char:|']);
    const modes = lexConntrackd('ftfw Alarm NOTRACK nack PERSISTENT', 'f').flatMap((t) => (t.kind === 'mode' ? [t.mode] : []));
    assert.deepEqual(modes, ['FTFW', 'ALARM', 'NOTRACK', 'FTFW', 'ALARM']);
    // The scanner wants the final T of PERSISTENT in capitals.
    assert.deepEqual(kinds('Persistent PersistenT'), ['string:Persistent', 'mode:PersistenT']);
  });

  it('reads hex-looking words as IPv6 addresses when they are as long as any other match', () => {
    assert.deepEqual(kinds('dead fc ab12 ab12c eth2 face0 DCCP daemon'), [
      'ip:dead',
      'ip:fc',
      'ip:ab12',
      'string:ab12c',
      'string:eth2',
      'string:face0',
      'string:DCCP',
      'string:daemon',
    ]);
    assert.deepEqual(kinds('1234 12345 1:2'), ['number:1234', 'number:12345', 'ip:1:2']);
  });

  it('reads addresses the way the scanner does, oddities included', () => {
    assert.deepEqual(kinds('10.0.0.1/24 ff02::1 fe80::/10 1:::2 abcdef::1'), [
      'ip:10.0.0.1/24',
      'ip:ff02::1',
      'ip:fe80::/10',
      'ip:1:::2',
      'ip:abcdef::1',
    ]);
    // No dotted tail in IPv6 and at most four IPv4 parts: what follows is a stray '.'.
    assert.deepEqual(kinds('::ffff:1.2.3.4'), ['ip:::ffff:1', 'char:.', 'number:2', 'char:.', 'number:3', 'char:.', 'number:4']);
    assert.deepEqual(kinds('1.2.3.4.5'), ['ip:1.2.3.4', 'char:.', 'number:5']);
  });

  it('ipv6Length matches the longest form of the scanner pattern, fast on long hex runs', () => {
    assert.equal(ipv6Length('1:2:3:4:5:6:7:8', 0), 15);
    assert.equal(ipv6Length('1:2:3:4:5:6:7:8:9', 0), 15); // at most eight groups without '::'
    assert.equal(ipv6Length('fe80::1/64 x', 0), 10);
    assert.equal(ipv6Length('::', 0), 2);
    assert.equal(ipv6Length(':x', 0), 0);
    assert.equal(ipv6Length('abcdefg', 0), 4);
    assert.equal(ipv6Length('a'.repeat(5000) + '::', 0), 4);
    assert.equal(ipv6Length('aaaa'.repeat(7) + '::' + 'aaaa'.repeat(7), 0), 58);
  });

  it('reads numbers with a sign as signed, and a path up to a space, a line feed or a quote', () => {
    assert.deepEqual(kinds('+0 -20 - 5'), ['signed:+0', 'signed:-20', 'char:-', 'number:5']);
    assert.deepEqual(kinds('/a\tb#c}d /e"g'), ['path:/a\tb#c}d', 'path:/e', 'char:"', 'string:g']);
  });

  it('ends a comment only at a line feed; a comment with none after it is a stray "#"', () => {
    assert.deepEqual(kinds('General # a { b\n}'), ['word:General', '}:}']);
    const [, hash, eof] = lexConntrackd('General # no newline', 'f');
    assert.deepEqual(hash?.kind === 'char' && [hash.text, hash.openComment, at(hash)], ['#', true, '1:9']);
    assert.equal(eof?.kind, 'eof');
    // CR does not end a line: the comment swallows the rest up to the next line feed.
    assert.deepEqual(kinds('# x\r} y\nz'), ['string:z']);
  });

  it('gives every token its line and column (columns in code points, tabs count one)', () => {
    const toks = lexConntrackd('General {\r\n\tHashSize\t5 # é\n\t\u00e9x 𝔸 }', 'a.conf');
    assert.deepEqual(
      toks.map((t) => `${t.kind}@${at(t)}`),
      ['word@1:1', '{@1:9', 'word@2:2', 'number@2:11', 'char@3:2', 'string@3:3', 'char@3:5', '}@3:7', 'eof@3:8'],
    );
    assert.equal(toks[0]!.loc.file, 'a.conf');
  });
});
