import fc from 'fast-check';
import { CONTEXTS, KEEPSTATE_ONLY, TCP_STATES, type ArgSpec, type ContextName, type KeywordRule } from '../../src/config/conntrackd/keywords.js';

/**
 * fast-check arbitraries for conntrackd.conf text, generated from the grammar table itself: well-formed
 * texts (every statement of every block, arguments picked from values that lex as the intended token
 * kind, some of them semantically wrong) and mutated ones (a token dropped, inserted or replaced).
 */

const VALUES: Readonly<Record<Exclude<ArgSpec, object>, readonly string[]>> = {
  bool: ['on', 'off', 'Yes', 'NO', 'oN'],
  number: ['5', '0', '3780', '65536', '99', '99999999999'],
  signed: ['-20', '+0', '+5'],
  path: ['/run/keepstate-test/none.ctl', '/tmp/keepstate-test/x.log'],
  ip: ['225.0.0.50', '192.168.1.1', '10.0.0.0/8', 'ff02::1', 'fe80::/10', '::1', '1:2::3', '010.0.0.1'],
  mark: ['0x1', '0x10/0xf0', '5/0xff', '0xffffffff'],
  string: ['eth0', 'daemon', 'local2', 'RR', 'fifo', 'ftp', 'inet', 'tcp', 'sctp', 'ICMP', 'br-lan.5', 'inet6', 'udp'],
};

const MODE_SPELLINGS = { FTFW: ['FTFW', 'ftfw', 'nack'], ALARM: ['ALARM', 'Alarm', 'PERSISTENT'], NOTRACK: ['NOTRACK', 'notrack'] } as const;

/** MUTANTS are tokens inserted by mutations: braces, scanner traps, keywords out of place. */
export const MUTANTS = [
  '{', '}', 'dead', 'fc', '1.2.3.4.5', '"', ';', 'hashsize', 'Default', 'for', 'TCP', 'UDP', '5', '-3', '/p', 'on',
  'FTFW', 'persistent', '#x\n', '12345:6', 'Group', 'HashSize', 'Mode', 'State', 'Persistent', '::ffff:1.2.3.4',
];

function argArb(spec: ArgSpec): fc.Arbitrary<string> {
  if (typeof spec === 'string') return fc.constantFrom(...VALUES[spec]);
  if ('word' in spec) return fc.constantFrom(...spec.word);
  return fc.constantFrom(...MODE_SPELLINGS[spec.mode]);
}

function blockArb(ctx: ContextName, depth: number): fc.Arbitrary<string[]> {
  const spec = CONTEXTS[ctx];
  const maxLength = depth > 3 ? 0 : depth > 1 ? 2 : 4;
  if (spec.kind === 'items') return fc.array(fc.oneof(...spec.items.map(argArb)), { maxLength });
  if (spec.kind === 'tcpStates')
    return fc
      .array(fc.array(fc.constantFrom(...TCP_STATES, 'CLOSE'), { maxLength: 3 }), { maxLength })
      .map((groups) => groups.flatMap((g) => [...g, 'for', 'TCP']));
  const keywords: Readonly<Record<string, KeywordRule>> = spec.keywords;
  // Only conntrackd's own grammar: the texts are compared with the real conntrackd.
  const names = Object.keys(keywords).filter((k) => !KEEPSTATE_ONLY.has(`${ctx}.${k}`));
  const statement: fc.Arbitrary<string[]> = fc.constantFrom(...names).chain((k) =>
    fc.constantFrom(...keywords[k]!.forms).chain((form) =>
      fc
        .tuple(fc.tuple(...form.args.map(argArb)), form.block === undefined ? fc.constant(null) : blockArb(form.block, depth + 1))
        .map(([args, body]): string[] => [k, ...(args as string[]), ...(body === null ? [] : ['{', ...body, '}'])]),
    ),
  );
  return fc.array(statement, { maxLength }).map((ss) => ss.flat());
}

const separator = fc.constantFrom(' ', ' ', '\n', '\n', '\t', '\r\n', ' # comment\n');

/**
 * join puts a separator after each token. With `safe`, a path is followed by a space or a line feed
 * only: a tab or a CR would become part of the path (see lexer.ts), which mutated texts may exercise.
 */
const join =
  (safe: boolean) =>
  (tokens: readonly string[]): fc.Arbitrary<string> =>
    fc
      .tuple(fc.array(separator, { minLength: tokens.length, maxLength: tokens.length }), fc.boolean())
      .map(([seps, finalNewline]) => {
        const sep = (t: string, s: string): string => (safe && t.startsWith('/') && (s === '\t' || s === '\r\n') ? '\n' : s);
        return tokens.map((t, i) => t + sep(t, seps[i]!)).join('') + (finalNewline ? '\n' : '');
      });

/** wellFormedTokens are token lists the grammar accepts (values may still be semantically bad). */
export const wellFormedTokens: fc.Arbitrary<string[]> = blockArb('top', 0);

/** wellFormedText joins well-formed tokens with assorted whitespace and comments. */
export const wellFormedText: fc.Arbitrary<string> = wellFormedTokens.chain(join(true));

/** mutatedText is well-formed text with up to three tokens dropped, inserted or replaced. */
export const mutatedText: fc.Arbitrary<string> = fc
  .tuple(
    wellFormedTokens,
    fc.array(fc.tuple(fc.constantFrom('drop', 'insert', 'replace'), fc.nat(), fc.constantFrom(...MUTANTS)), { maxLength: 3 }),
  )
  .map(([tokens, mutations]) => {
    const out = [...tokens];
    for (const [op, i, mutant] of mutations) {
      const at = out.length === 0 ? 0 : i % out.length;
      if (op === 'drop') out.splice(at, 1);
      else if (op === 'insert') out.splice(at, 0, mutant);
      else out[at] = mutant;
    }
    return out;
  })
  .chain(join(false));
