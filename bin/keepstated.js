#!/usr/bin/env -S node --single-threaded-gc --max-semi-space-size=4
// keepstated's launcher: the compiled daemon lives in dist/ (npm run build). The #! line's node
// flags are src/daemon/node-flags.ts's DAEMON_NODE_FLAGS (test/daemon/unit-file.test.ts holds them equal).
import { main } from '../dist/src/daemon/main.js';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err) => {
    process.stderr.write(`keepstated: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
