import { resolve as resolvePath } from 'node:path';
import { ConfigErrors, Diagnostics, compareDiagnostics, type ConfigWarning } from '../error.js';
import { parseKeepalivedTree } from './parser.js';
import { buildKeepalivedConfig } from './schema.js';
import { NODE_FS, loadKeepalivedSource, type ConfigFs } from './source.js';
import type { KeepalivedConfig } from './types.js';

export type * from './types.js';
export type { ConfigFs } from './source.js';
export { NODE_FS } from './source.js';
export { GLOBAL_DEFAULTS } from './global.js';
export { ConfigErrors, formatConfigError, type ConfigError, type ConfigErrorCode, type ConfigWarning, type SourceLoc } from '../error.js';

/** ParsedKeepalivedConfig is an accepted configuration and the warnings found on the way. */
export interface ParsedKeepalivedConfig {
  readonly config: KeepalivedConfig;
  readonly warnings: readonly ConfigWarning[];
}

/**
 * parseKeepalivedConfig reads the keepalived.conf at `path` and every file it includes, with keepalived
 * 2.2.7's syntax, defaults and checks, and returns its VRRP configuration. It throws ConfigErrors listing
 * every error (file:line:col, in position order) if anything is wrong or unsupported; it throws nothing
 * else. `fs` replaces the file system (tests).
 */
export function parseKeepalivedConfig(path: string, fs: ConfigFs = NODE_FS): ParsedKeepalivedConfig {
  const d = new Diagnostics();
  const src = loadKeepalivedSource(path, d, fs);
  const tree = parseKeepalivedTree(src.pieces, d);
  const config = buildKeepalivedConfig(tree, src.files, d);
  const warnings = [...d.warnings].sort(compareDiagnostics);
  if (d.errors.length > 0) throw new ConfigErrors([...d.errors].sort(compareDiagnostics), warnings);
  return { config, warnings };
}

/**
 * parseKeepalivedText is parseKeepalivedConfig for text in memory, named `file` in diagnostics;
 * `include` lines are resolved relative to the directory of `file` through `fs`.
 */
export function parseKeepalivedText(text: string, file: string, fs: ConfigFs = NODE_FS): ParsedKeepalivedConfig {
  const inMemory: ConfigFs = { ...fs, readText: (p) => (p === resolvePath(file) ? text : fs.readText(p)) };
  return parseKeepalivedConfig(file, inMemory);
}
