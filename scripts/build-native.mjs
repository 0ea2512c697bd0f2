// Builds native/build/Release/keepstate.node at `npm install`/`npm ci` (the root package's install
// script). It uses the node-gyp bundled with npm and the headers installed next to this node binary,
// so nothing is downloaded and no user-level .npmrc (nodedir=...) is needed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const nativeDir = join(root, 'native');
const output = join(nativeDir, 'build', 'Release', 'keepstate.node');

const die = (msg) => {
  console.error(`keepstate: ${msg}`);
  process.exit(1);
};

if (process.platform !== 'linux') {
  console.log(`keepstate: the native socket addon is Linux-only, so there is nothing to build on ${process.platform}.`);
  process.exit(0);
}

// Headers: <prefix>/include/node/node_api.h where node is <prefix>/bin/node (/usr on Debian).
const hasHeaders = (dir) => dir !== undefined && dir !== '' && existsSync(join(dir, 'include', 'node', 'node_api.h'));
const nodedir = [dirname(dirname(process.execPath)), process.env.npm_config_nodedir].find(hasHeaders);
if (nodedir === undefined) {
  die(`no Node.js headers (include/node/node_api.h) under ${dirname(dirname(process.execPath))}; install the headers of node ${process.version}`);
}

// node-gyp: the one npm passes to lifecycle scripts, else the copy bundled with the npm next to node.
const gypCandidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && join(dirname(dirname(process.env.npm_execpath)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
];
const nodeGyp = gypCandidates.find((p) => typeof p === 'string' && p !== '' && existsSync(p));
if (nodeGyp === undefined) die('cannot find node-gyp (neither npm_config_node_gyp nor the copy bundled with npm)');

const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: nativeDir, stdio: 'inherit' });
if (r.status !== 0 || !existsSync(output)) {
  die(`building the native addon failed (node-gyp exit ${r.status ?? r.signal}); it needs a C compiler, make and python3`);
}
console.log(`keepstate: built ${output} (${statSync(output).size} bytes)`);
