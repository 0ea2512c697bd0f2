import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Diagnostics } from '../../src/config/error.js';
import { lexKeepalived, splitQuotedEscaped, type LexItem } from '../../src/config/keepalived/lexer.js';

/** lines renders lexer output compactly: each piece as its words joined by '|', includes as 'include:PATTERN'. */
function lines(text: string): { out: string[]; errors: string[] } {
  const d = new Diagnostics();
  const items: LexItem[] = lexKeepalived(text, 'k.conf', d);
  const out = items.map((i) => (i.kind === 'include' ? `include${i.variant}:${i.pattern}@${i.loc.line}:${i.loc.col}` : i.words.map((w) => w.text).join('|')));
  return { out, errors: d.errors.map((e) => `${e.line}:${e.col} ${e.code}`) };
}

describe('keepalived lexer (lib/parser.c read_line, decomment, alloc_strvec_r)', () => {
  const cases: readonly (readonly [name: string, text: string, want: readonly string[], errors?: readonly string[]])[] = [
    ['words split at blanks', 'state  MASTER\t', ['state|MASTER']],
    ['# and ! start comments', '# c\n! c\npriority 100 # c\n', ['priority|100']],
    ['a comment may start inside a word', 'router_id r1!note\n', ['router_id|r1']],
    ['escaped comment characters', 'router_id a\\#b\\!c\n', ['router_id|a#b!c']],
    ['# inside quotes is text', 'notify "/x.sh #1"\n', ['notify|/x.sh #1']],
    ['a block on one line is cut at each brace', 'vrrp_instance A { state MASTER }\n', ['vrrp_instance|A', '{', 'state|MASTER', '}']],
    ['braces on their own lines', 'global_defs\n{\n}\n', ['global_defs', '{', '}']],
    ['a brace inside quotes does not cut', 'script "a{b}"\n', ['script|a{b}']],
    ['a quoted word ends at its quote', 'x "a b"c d\n', ['x|a b|c|d']],
    ['a word ends at a quote', 'x ab"c d"\n', ['x|ab|c d']],
    ['no line continuation: the backslash stays on the last word', 'virtual_router_id 51 \\\npriority 1\n', ['virtual_router_id|51\\', 'priority|1']],
    ['CRLF line ends', 'state BACKUP\r\n', ['state|BACKUP']],
    ['include, relative pattern', 'include conf.d/*.conf\n', ['include:conf.d/*.conf@1:1']],
    ['includer variant, comment removed', '  includer  /etc/k/{a,b}.conf # x\n', ['includer:/etc/k/{a,b}.conf@1:3']],
    ['include glued to a word is a keyword', 'includes x\n', ['includes|x']],
    ['include after a brace on the same line', 'global_defs { include x.conf\n}\n', ['global_defs', '{', 'include:x.conf@1:15', '}']],
    ['unterminated quote', 'x "abc\n', ['x'], ['1:1 CFG_SYNTAX', '1:3 CFG_SYNTAX']],
    ['parameter definitions are unsupported', '$IF=eth0\nstate MASTER\n', ['state|MASTER'], ['1:1 CFG_UNSUPPORTED']],
    ['conditional lines are unsupported', '@node1 priority 200\n', [], ['1:1 CFG_UNSUPPORTED']],
    ['~SEQ is unsupported', '~SEQ(i,1,3) x\n', [], ['1:1 CFG_UNSUPPORTED']],
    ['a $ inside a line is text', 'notify_master /x.sh$y\n', ['notify_master|/x.sh$y']],
  ];
  for (const [name, text, want, errors = []] of cases)
    it(name, () => {
      const r = lines(text);
      assert.deepEqual(r.out, want);
      assert.deepEqual(r.errors, errors);
    });

  it('records the column of each word (1-based, in code points)', () => {
    const d = new Diagnostics();
    const [p] = lexKeepalived('  ü priority   7\n', 'k.conf', d);
    assert.ok(p !== undefined && p.kind === 'line');
    assert.deepEqual(
      p.words.map((w) => [w.text, w.loc.line, w.loc.col]),
      [
        ['ü', 1, 3],
        ['priority', 1, 5],
        ['7', 1, 16],
      ],
    );
  });

  it('keeps the raw piece for keywords that re-read it', () => {
    const d = new Diagnostics();
    const items = lexKeepalived("vrrp_script s { script \"/bin/check 'a b'\" }\n", 'k.conf', d);
    const raws = items.map((i) => (i.kind === 'line' ? i.raw : ''));
    assert.deepEqual(raws, ['vrrp_script s', '{', `script "/bin/check 'a b'"`, '}']);
  });
});

describe('keepalived script command words (alloc_strvec_quoted_escaped)', () => {
  const cases: readonly (readonly [string, readonly string[] | string])[] = [
    ['/bin/a b c', ['/bin/a', 'b', 'c']],
    [`/bin/a "b c" 'd e'`, ['/bin/a', 'b c', 'd e']],
    [`/bin/a x"y z"w`, ['/bin/a', 'xy zw']],
    ['/bin/a \\"q\\" \\\\', ['/bin/a', '"q"', '\\']],
    ['a\\tb \\x41\\101 \\cA', ['a\tb', 'AA', '\x01']],
    [`a 'unterminated`, 'missing terminating \''],
    ['a \\', 'a backslash at the end of the command has nothing to escape'],
    ['', []],
  ];
  for (const [src, want] of cases)
    it(JSON.stringify(src), () => {
      const r = splitQuotedEscaped(src);
      if (typeof want === 'string') assert.deepEqual(r, { error: want });
      else assert.deepEqual(r, { words: want });
    });
});
