/**
 * Configuration diagnostics (house-style R9, R14). A config parser never throws on the first problem and
 * never prints: it collects every problem as data, each pinned to file:line:col, and the caller decides
 * what to do with them. Warnings have the same shape as errors.
 */

/** SourceLoc is a position in a configuration file: 1-based line and column (column in code points). */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** ConfigErrorCode is the stable category of a diagnostic; branch on it, never on the message text. */
export type ConfigErrorCode =
  | 'CFG_SYNTAX' // a token the grammar does not allow here (conntrackd: "syntax error")
  | 'CFG_UNKNOWN_KEYWORD' // a word that is no keyword of this block
  | 'CFG_MISPLACED' // a keyword that exists, but not in this block
  | 'CFG_BAD_VALUE' // a value of the right kind but outside what the option accepts
  | 'CFG_CONFLICT' // two settings that cannot both hold (Sync and Stats, mixed channel kinds, ...)
  | 'CFG_MISSING' // a setting the configuration cannot work without
  | 'CFG_UNSUPPORTED' // valid for conntrackd, not implemented by keepstate yet
  | 'CFG_DEPRECATED' // warning: accepted and ignored, or an old name
  | 'CFG_NO_EFFECT' // warning: accepted, but does nothing in this configuration
  | 'CFG_DUPLICATE'; // warning: given twice, the last one counts

/** ConfigError is one diagnostic (an error, or a warning when it sits in a warnings list). */
export interface ConfigError extends SourceLoc {
  readonly code: ConfigErrorCode;
  readonly message: string;
}

/** ConfigWarning has the shape of ConfigError; the configuration was accepted despite it. */
export type ConfigWarning = ConfigError;

/** formatConfigError renders a diagnostic the way compilers do: `file:line:col: message`. */
export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

/** compareDiagnostics orders diagnostics by position (file, line, column); stable for equal positions. */
export function compareDiagnostics(a: ConfigError, b: ConfigError): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.col - b.col;
}

/**
 * ConfigErrors is what a config parser throws when the file is not acceptable: every error found, in
 * file order, plus the warnings collected on the way. The message lists all errors, one per line.
 */
export class ConfigErrors extends Error {
  override readonly name = 'ConfigErrors';
  constructor(
    readonly errors: readonly ConfigError[],
    readonly warnings: readonly ConfigWarning[] = [],
  ) {
    super(errors.map(formatConfigError).join('\n'));
  }
}

/** Diagnostics collects errors and warnings while a file is processed. */
export class Diagnostics {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigWarning[] = [];
  error(at: SourceLoc, code: ConfigErrorCode, message: string): void {
    this.errors.push({ file: at.file, line: at.line, col: at.col, code, message });
  }
  warn(at: SourceLoc, code: ConfigErrorCode, message: string): void {
    this.warnings.push({ file: at.file, line: at.line, col: at.col, code, message });
  }
}
