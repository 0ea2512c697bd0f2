#!/usr/bin/env node
// keepstated's launcher: the compiled daemon lives in dist/ (npm run build).
import { main } from '../dist/src/daemon/main.js';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err) => {
    process.stderr.write(`keepstated: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
