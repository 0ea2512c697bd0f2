import { EXIT, exitError } from './errors.js';

/** OptCheck is generic_opt_check's outcome: ok, or the first partially given coupled group (-1: none). */
export type OptCheck = { readonly ok: true } | { readonly ok: false; readonly partial: number };

/**
 * genericOptCheck is conntrack's generic_opt_check(): for each of `numOpts` option bits, a
 * compulsory (1) option that is missing or an illegal (0) one that is present ends the command
 * with conntrack's message; when the row has "undecided" (3) entries, one of the `coupled` groups
 * must be given whole.
 */
export function genericOptCheck(
  options: number,
  numOpts: number,
  row: readonly number[],
  names: readonly (string | undefined)[],
  coupled: readonly number[] | undefined,
): OptCheck {
  let special = false;
  for (let i = 0; i < numOpts; i++) {
    const allowed = row[i] ?? 0;
    if ((options & (1 << i)) === 0) {
      if (allowed === 1) exitError(EXIT.PARAMETER_PROBLEM, `You need to supply the \`--${names[i] ?? '(null)'}' option for this command`);
    } else if (allowed === 0) exitError(EXIT.PARAMETER_PROBLEM, `Illegal option \`--${names[i] ?? '(null)'}' with this command`);
    if (allowed === 3) special = true;
  }
  if (!special || coupled === undefined) return { ok: true };
  let partial = -1;
  for (let i = 0; i < coupled.length; i++) {
    const g = coupled[i]!;
    if ((options & g) === g) return { ok: true };
    if ((options & g) !== 0 && partial < 0) partial = i;
  }
  return { ok: false, partial };
}
