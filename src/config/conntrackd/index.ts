import { ConfigErrors, Diagnostics, compareDiagnostics, type ConfigWarning } from '../error.js';
import { lexConntrackd } from './lexer.js';
import { parseConntrackdAst } from './parser.js';
import { buildConntrackdConfig } from './schema.js';
import type { ConntrackdConfig } from './types.js';

export type * from './types.js';
export type { TcpStateName } from './keywords.js';
export { ConfigErrors, formatConfigError, type ConfigError, type ConfigErrorCode, type ConfigWarning, type SourceLoc } from '../error.js';
export { unsupportedFeatures, NOT_YET_SUPPORTED } from './unsupported.js';
export { DEFAULTS as CONNTRACKD_DEFAULTS } from './schema.js';

/** ParsedConntrackdConfig is an accepted configuration and the warnings found on the way. */
export interface ParsedConntrackdConfig {
  readonly config: ConntrackdConfig;
  readonly warnings: readonly ConfigWarning[];
}

/**
 * parseConntrackdConfig reads the text of a conntrackd.conf (`file` names it in diagnostics) with
 * conntrackd 1.4.7's grammar and defaults. It throws ConfigErrors listing every error, in file order,
 * if the text is not acceptable; it throws nothing else and has no side effects.
 */
export function parseConntrackdConfig(text: string, file: string): ParsedConntrackdConfig {
  const d = new Diagnostics();
  const ast = parseConntrackdAst(lexConntrackd(text, file), file, d);
  const config = buildConntrackdConfig(ast, d);
  const warnings = [...d.warnings].sort(compareDiagnostics);
  if (d.errors.length > 0) throw new ConfigErrors([...d.errors].sort(compareDiagnostics), warnings);
  return { config, warnings };
}
