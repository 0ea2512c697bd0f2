import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigErrors, compareDiagnostics, type ConfigError } from '../../src/config/error.js';
import { parseConntrackdConfig, unsupportedFeatures } from '../../src/config/conntrackd/index.js';
import { MUTANTS, mutatedText, wellFormedText } from './grammar-gen.js';

const SYNTAX = new Set(['CFG_SYNTAX', 'CFG_UNKNOWN_KEYWORD', 'CFG_MISPLACED']);

/** outcome parses `text`; anything thrown other than ConfigErrors fails the property. */
function outcome(text: string): { ok: true; warnings: readonly ConfigError[] } | { ok: false; errors: readonly ConfigError[] } {
  try {
    const r = parseConntrackdConfig(text, 'fuzz.conf');
    unsupportedFeatures(r.config); // must not throw either
    return { ok: true, warnings: r.warnings };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { ok: false, errors: e.errors };
  }
}

/** checkPositions: every diagnostic is in file order and points inside the text (or just past its end). */
function checkPositions(text: string, ds: readonly ConfigError[]): void {
  const lines = text.split('\n');
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!;
    assert.equal(d.file, 'fuzz.conf');
    assert.ok(d.line >= 1 && d.line <= lines.length, `line ${d.line} of ${lines.length}`);
    assert.ok(d.col >= 1 && d.col <= [...lines[d.line - 1]!].length + 1, `col ${d.col} on line ${d.line}`);
    assert.ok(d.message.length > 0);
    if (i > 0) assert.ok(compareDiagnostics(ds[i - 1]!, d) <= 0, 'sorted by position');
  }
}

describe('fuzz: the conntrackd.conf parser', () => {
  it('never throws anything but ConfigErrors on arbitrary text, and places every diagnostic inside it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const r = outcome(text);
        if (r.ok) checkPositions(text, r.warnings);
        else {
          assert.ok(r.errors.length > 0);
          checkPositions(text, r.errors);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but ConfigErrors on soups of conntrackd tokens', () => {
    const soup = fc
      .array(fc.oneof(fc.constantFrom('General', 'Sync', 'Mode', 'Multicast', 'UDP', 'Filter', 'Address', 'IPv4_address', '{', '}', '\n', ' '), fc.constantFrom(...MUTANTS)), {
        maxLength: 60,
      })
      .map((ts) => ts.join(' '));
    fc.assert(
      fc.property(soup, (text) => {
        const r = outcome(text);
        checkPositions(text, r.ok ? r.warnings : r.errors);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts the syntax of every text generated from the grammar table (value errors aside)', () => {
    fc.assert(
      fc.property(wellFormedText, (text) => {
        const r = outcome(text);
        if (!r.ok) assert.deepEqual(r.errors.filter((e) => SYNTAX.has(e.code)), [], text);
      }),
      { numRuns: 1500 },
    );
  });

  it('reports mutated grammar texts with sorted, in-range errors, and is deterministic', () => {
    fc.assert(
      fc.property(mutatedText, (text) => {
        const a = outcome(text);
        checkPositions(text, a.ok ? a.warnings : a.errors);
        assert.deepEqual(outcome(text), a);
      }),
      { numRuns: 1500 },
    );
  });
});
