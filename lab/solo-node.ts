import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConntrackdConfig } from '../src/config/conntrackd/index.js';
import type { Logger } from '../src/daemon/log.js';
import { SyncNode } from '../src/daemon/sync-node.js';
import { syncConf } from './conntrackd.js';
import { linkVeth } from './link.js';
import { Netns } from './netns.js';

/**
 * SoloNode is a keepstate sync node alone in namespace A, its dedicated link a veth to an idle
 * namespace B (what it sends goes nowhere): for tests of a node's own behaviour (event buffer,
 * HashLimit…). `lines` collects its log as "level: message".
 */
export interface SoloNode {
  readonly a: Netns;
  readonly node: SyncNode;
  readonly lines: string[];
  close(): Promise<void>;
}

/**
 * startSoloNode starts one. `subnet` is the link's /24 (e.g. "10.233.0"); `edit` rewrites the
 * conntrackd.conf text lab/conntrackd.ts writes (NetlinkBufferSize `bufferSize`).
 */
export async function startSoloNode(label: string, subnet: string, edit: (conf: string) => string = (c) => c, bufferSize?: number): Promise<SoloNode> {
  const a = Netns.create(`${label}a`);
  const b = Netns.create(`${label}b`);
  const dir = mkdtempSync(join(tmpdir(), `ks-${label}-`));
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };
  const close = async (node?: SyncNode): Promise<void> => {
    await node?.stop();
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    linkVeth({ ns: a, ifname: 'sync0', cidr: `${subnet}.1/24` }, { ns: b, ifname: 'sync0', cidr: `${subnet}.2/24` });
    const text = edit(syncConf(dir, { kind: 'udp', self: `${subnet}.1`, peer: `${subnet}.2`, device: 'sync0' }, '', bufferSize));
    const node = await SyncNode.start(parseConntrackdConfig(text, `${label}.conf`).config, log, { netns: a.name });
    return { a, node, lines, close: () => close(node) };
  } catch (e) {
    await close();
    throw e;
  }
}
