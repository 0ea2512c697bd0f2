import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAnnotatedHex } from '../../src/wire/hex.js';

/** loadFrameGolden reads test/vrrp-io/golden/<name>: one Ethernet frame captured from keepalived with tcpdump (capture.sh there). */
export function loadFrameGolden(name: string): Uint8Array {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const c = join(dir, 'test', 'vrrp-io', 'golden');
    if (existsSync(join(dir, 'package.json')) && existsSync(c)) return parseAnnotatedHex(readFileSync(join(c, name), 'utf8'));
    const up = dirname(dir);
    if (up === dir) throw new Error('test/vrrp-io/golden not found');
    dir = up;
  }
}
