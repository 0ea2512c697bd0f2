import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { SourceLoc } from '../config/error.js';

/**
 * Who the notify and track scripts run as, as keepalived 2.2.7 decides it (keepalived.conf(5)
 * `script_user`): a script's own `user [group]` words, else global_defs' `script_user USER
 * [GROUP]`, else the user `keepalived_script` if it exists, else root (with the warning keepalived
 * logs). A group not given is the user's primary group. A user or group that does not exist makes
 * keepalived refuse to run the script; so does this, with the script's file:line:col. With
 * `enable_script_security`, a script that would run as root is refused when it, or a directory
 * above it, can be changed by someone else (keepalived's check_script_secure).
 */

/** RunAs is a uid/gid pair for spawn (libuv sets the gid, drops supplementary groups, sets the uid). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly user: string;
}

/** Accounts looks up users and groups (getent: NSS, as keepalived's getpwnam/getgrnam). */
export interface Accounts {
  user(name: string): { readonly uid: number; readonly gid: number } | undefined;
  group(name: string): number | undefined;
}

/** DEFAULT_SCRIPT_USER is the user keepalived runs scripts as when script_user is not set and it exists. */
export const DEFAULT_SCRIPT_USER = 'keepalived_script';

/**
 * parseAccountLine reads one passwd or group line (`name:x:uid:gid:…`, `name:x:gid:members`): the
 * name and the two numeric fields after the password (the second is absent for a group line's
 * members, which are not numeric). Undefined when the line is not one.
 */
export function parseAccountLine(line: string): { readonly name: string; readonly id: number; readonly gid?: number } | undefined {
  const f = line.trim().split(':');
  const name = f[0];
  if (name === undefined || name === '' || f.length < 3 || !/^\d+$/.test(f[2] ?? '')) return undefined;
  const id = Number(f[2]);
  return /^\d+$/.test(f[3] ?? '') ? { name, id, gid: Number(f[3]) } : { name, id };
}

/** hostAccounts asks `getent` (so that NSS users count, as for keepalived); answers are cached. */
export function hostAccounts(): Accounts {
  const cache = new Map<string, ReturnType<typeof parseAccountLine>>();
  const get = (db: 'passwd' | 'group', name: string): ReturnType<typeof parseAccountLine> => {
    const k = `${db}:${name}`;
    if (!cache.has(k)) {
      let line = '';
      try {
        line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        line = ''; // exit 2: no such entry
      }
      cache.set(k, parseAccountLine(line.split('\n')[0] ?? ''));
    }
    return cache.get(k);
  };
  return {
    user: (name) => {
      const e = get('passwd', name);
      return e?.gid !== undefined ? { uid: e.id, gid: e.gid } : undefined;
    },
    group: (name) => get('group', name)?.id,
  };
}

/** resolveRunAs finds `user` and `group` (default: the user's primary group), or says which is missing. */
export function resolveRunAs(user: string, group: string | undefined, accounts: Accounts): RunAs | string {
  const u = accounts.user(user);
  if (u === undefined) return `user '${user}' does not exist`;
  if (group === undefined) return { uid: u.uid, gid: u.gid, user };
  const gid = accounts.group(group);
  return gid === undefined ? `group '${group}' does not exist` : { uid: u.uid, gid, user };
}

/** A script as far as its user is concerned. */
export interface ScriptWho {
  readonly argv?: readonly string[];
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly loc?: SourceLoc | undefined;
}

/**
 * ScriptUsers decides, once per script, whom it runs as. `runAs` returns spawn's uid/gid, `{}` for
 * root (no change), or undefined when the script must not run (logged once, with its position).
 */
export class ScriptUsers {
  /** The default for scripts without a user of their own: looked up at the first need (getent forks). */
  private fallbackRunAs: RunAs | string | undefined | null = null;
  private readonly refused = new Set<string>();

  constructor(
    private readonly global: { readonly scriptUser?: { readonly user: string; readonly group?: string } | undefined },
    private readonly accounts: Accounts,
    private readonly log: (level: 'warning' | 'error', message: string) => void,
    /** Only root can run a script as someone else; otherwise scripts run as this process. */
    private readonly root: boolean = process.getuid?.() === 0,
    /** With enable_script_security: why a command run as root is unsafe (insecurePath), or undefined. */
    private readonly security?: (command: string) => string | undefined,
  ) {}

  private get fallback(): RunAs | string | undefined {
    if (this.fallbackRunAs !== null) return this.fallbackRunAs;
    const su = this.global.scriptUser;
    if (su !== undefined) this.fallbackRunAs = resolveRunAs(su.user, su.group, this.accounts);
    else {
      const d = resolveRunAs(DEFAULT_SCRIPT_USER, undefined, this.accounts);
      this.fallbackRunAs = typeof d === 'string' ? undefined : d;
    }
    return this.fallbackRunAs;
  }

  /** warnDefault logs keepalived's warning when scripts will run as root for want of keepalived_script. */
  warnDefault(hasScripts: boolean): void {
    if (hasScripts && this.global.scriptUser === undefined && this.fallback === undefined) this.log('warning', `default user '${DEFAULT_SCRIPT_USER}' for script execution does not exist - please create (scripts run as root)`);
  }

  runAs(who: ScriptWho, what: string): { readonly uid?: number; readonly gid?: number } | undefined {
    const r = who.user !== undefined ? resolveRunAs(who.user, who.group, this.accounts) : this.fallback;
    if (typeof r === 'string') return this.refuse(who, what, `${r}${who.user === undefined ? ' (script_user)' : ''}`);
    const asRoot = r === undefined || r.uid === 0;
    const cmd = who.argv?.[0];
    if (this.security !== undefined && this.root && asRoot && cmd !== undefined) {
      const why = this.security(cmd);
      if (why !== undefined) return this.refuse(who, what, `enable_script_security: ${why}`);
    }
    if (r === undefined || !this.root) return {};
    return { uid: r.uid, gid: r.gid };
  }

  /** refuse says once, with the script's position, why it does not run. */
  private refuse(who: ScriptWho, what: string, why: string): undefined {
    const at = who.loc !== undefined ? `${who.loc.file}:${who.loc.line}:${who.loc.col}: ` : '';
    const key = `${at}${what}: ${why}`;
    if (!this.refused.has(key)) {
      this.refused.add(key);
      this.log('error', `${at}${what}: ${why}: not run`);
    }
    return undefined;
  }
}

/** FileMode is what the security check needs of a path (stat): owner and permission bits. */
export interface FileMode {
  readonly uid: number;
  readonly mode: number;
}

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;
const S_ISVTX = 0o1000;

/**
 * insecurePath says why a script run as root is not safe, or undefined: the file and every
 * directory above it must belong to root and be writable by nobody else, unless it has the sticky
 * bit (as /tmp: others cannot rename or remove what is root's). `stat` is the file system (undefined: no such path);
 * `which` resolves a bare command name through PATH.
 */
export function insecurePath(command: string, stat: (p: string) => FileMode | undefined, which: (cmd: string) => string | undefined): string | undefined {
  const file = isAbsolute(command) ? command : which(command);
  if (file === undefined) return `${command} is not found`;
  const st = stat(file);
  if (st === undefined) return `${file} does not exist`;
  if (st.uid !== 0) return `${file} does not belong to root`;
  if ((st.mode & (S_IWGRP | S_IWOTH)) !== 0) return `${file} is writable by others than root`;
  for (let d = dirname(file); ; d = dirname(d)) {
    const ds = stat(d);
    if (ds === undefined) return `${d} does not exist`;
    if (ds.uid !== 0) return `${d} does not belong to root`;
    if ((ds.mode & (S_IWGRP | S_IWOTH)) !== 0 && (ds.mode & S_ISVTX) === 0) return `${d} is writable by others than root`;
    if (d === dirname(d)) return undefined;
  }
}

/** hostStat and hostWhich are insecurePath's ports on this host (statSync follows links, as exec does). */
export function hostStat(p: string): FileMode | undefined {
  try {
    const s = statSync(p);
    return { uid: s.uid, mode: s.mode };
  } catch {
    return undefined;
  }
}

export function hostWhich(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    const s = hostStat(p);
    if (s !== undefined && (s.mode & 0o111) !== 0) return p;
  }
  return undefined;
}
