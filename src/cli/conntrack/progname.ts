import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Which program sent a userspace-originated event: conntrack 1.4.7's get_progname(). The event's
 * nlmsg_pid is a netlink port id; /proc/net/netlink maps it to a socket inode, and the process
 * holding that inode (tried first at pid == port id, then every process) names the program.
 */

const NETLINK_NETFILTER = 12;
let last: { portId: number; inode: string; name: string | undefined } | undefined;

function inodeOf(portId: number): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/netlink', 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if (f.length < 10) continue;
    if (Number(f[1]) === NETLINK_NETFILTER && Number(f[2]) === portId) return f[9];
  }
  return undefined;
}

function commOf(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const open = stat.indexOf('(');
    if (open < 0) return undefined;
    const close = stat.indexOf(')', open + 1);
    return stat.slice(open + 1, close < 0 ? undefined : close);
  } catch {
    return undefined;
  }
}

function holds(pid: string, inode: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const want = `socket:[${inode}]`;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return true;
    } catch {
      // the descriptor closed meanwhile
    }
  }
  return false;
}

/** progname returns the name of the process that owns netfilter netlink port `portId`, if it can be found. */
export function progname(portId: number): string | undefined {
  const inode = inodeOf(portId);
  if (inode === undefined) return undefined;
  if (last !== undefined && last.portId === portId && last.inode === inode) return last.name;
  let name: string | undefined;
  if (holds(String(portId), inode)) name = commOf(String(portId));
  else {
    let pids: string[] = [];
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) > 1 && Number(p) !== portId);
    } catch {
      pids = [];
    }
    for (const pid of pids) {
      if (holds(pid, inode)) {
        name = commOf(pid);
        break;
      }
    }
  }
  last = { portId, inode, name };
  return name;
}
