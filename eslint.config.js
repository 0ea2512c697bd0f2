// Lint rules of house-style.md §8.2: no `any`, no enums/namespaces, one-way layers (R1).
import tseslint from 'typescript-eslint';

const layer = (files, banned, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: banned.map((group) => ({ group: [group], message })) }] },
});
const io = ['node:dgram', 'node:net', 'node:timers', 'node:child_process', 'node:fs', '**/native/**'];

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'build/**', 'native/build/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-namespace': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'use an `as const` object and a union (house-style R12)' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  layer(['src/wire/**/*.ts'], [...io, '**/netlink/**', '**/ctnetlink/**', '**/cli/**'], 'wire/ is pure and imports nothing above it'),
  layer(['src/netlink/**/*.ts'], ['**/ctnetlink/**', '**/cli/**'], 'netlink/ must not import upper layers'),
  layer(['src/netlink/{message,attrs,errors,consts}.ts'], io, 'netlink codecs are pure'),
  layer(['src/ctnetlink/**/*.ts'], ['**/cli/**'], 'ctnetlink/ must not import the CLI'),
  layer(['src/ctnetlink/!(client|events).ts'], io, 'ctnetlink codecs are pure'),
  layer(['src/engine/**/*.ts'], [...io, '**/cli/**', '**/netlink/conn*', '**/ctnetlink/client*', '**/ctnetlink/events*'], 'engine logic is pure: ports are injected (house-style R7)'),
);
