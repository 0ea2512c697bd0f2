import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessages, type NlMessage } from '../../src/netlink/message.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';

/**
 * loadRtnlGolden reads test/rtnetlink/golden/<name>: one rtnetlink message captured from iproute2
 * with strace (capture.sh there records how). Tests run from a compiled dist folder, so the
 * directory is found by walking up to the repository root.
 */
function goldenDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const c = join(dir, 'test', 'rtnetlink', 'golden');
    if (existsSync(join(dir, 'package.json')) && existsSync(c)) return c;
    const up = dirname(dir);
    if (up === dir) throw new Error('test/rtnetlink/golden not found');
    dir = up;
  }
}

const DIR = goldenDir();

export function loadRtnlGolden(name: string): NlMessage {
  const msgs = decodeMessages(parseAnnotatedHex(readFileSync(join(DIR, name), 'utf8')));
  if (msgs.length !== 1) throw new Error(`${name}: ${msgs.length} messages, want 1`);
  return msgs[0]!;
}
