/**
 * A faithful model of glibc's getopt_long(3) (posix/getopt.c), because conntrack(8)'s behaviour on
 * odd command lines comes from it: argument permutation (non-options are skipped and moved to the
 * end, unless POSIXLY_CORRECT is set), unique-prefix abbreviation of long options (`--p tcp`),
 * `--name=value`, clustered short options (`-zL`), optional arguments only when attached, and the
 * exact `optind` after each call, which conntrack uses to name the offending argument in errors.
 */

/** LongOption is struct option: has_arg 0 (none), 1 (required) or 2 (optional); val is returned. */
export interface LongOption {
  readonly name: string;
  readonly hasArg: 0 | 1 | 2;
  readonly val: number;
}

/** Getopt is the parser state (struct _getopt_data plus optind/optarg), over a private copy of argv. */
export class Getopt {
  readonly argv: string[];
  optind = 1;
  optarg: string | undefined;
  private nextchar = '';
  private firstNonopt = 1;
  private lastNonopt = 1;
  private readonly permute: boolean;

  constructor(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}) {
    this.argv = [...argv];
    this.permute = env['POSIXLY_CORRECT'] === undefined;
  }

  /** next returns the next option's value (a char code or a long option's val), '?'/':' codes on error, or -1 at the end. */
  next(optstring: string, longopts: readonly LongOption[]): number {
    const argv = this.argv;
    const argc = argv.length;
    this.optarg = undefined;
    const isNonopt = (i: number): boolean => argv[i]![0] !== '-' || argv[i]!.length === 1;

    if (this.nextchar === '') {
      if (this.lastNonopt > this.optind) this.lastNonopt = this.optind;
      if (this.firstNonopt > this.optind) this.firstNonopt = this.optind;
      if (this.permute) {
        if (this.firstNonopt !== this.lastNonopt && this.lastNonopt !== this.optind) this.exchange();
        else if (this.lastNonopt !== this.optind) this.firstNonopt = this.optind;
        while (this.optind < argc && isNonopt(this.optind)) this.optind++;
        this.lastNonopt = this.optind;
      }
      if (this.optind !== argc && argv[this.optind] === '--') {
        this.optind++;
        if (this.firstNonopt !== this.lastNonopt && this.lastNonopt !== this.optind) this.exchange();
        else if (this.firstNonopt === this.lastNonopt) this.firstNonopt = this.optind;
        this.lastNonopt = argc;
        this.optind = argc;
      }
      if (this.optind === argc) {
        if (this.firstNonopt !== this.lastNonopt) this.optind = this.firstNonopt;
        return -1;
      }
      if (isNonopt(this.optind)) {
        if (!this.permute) return -1;
        this.optarg = argv[this.optind++];
        return 1;
      }
      const arg = argv[this.optind]!;
      if (arg[1] === '-') {
        this.nextchar = arg.slice(2);
        return this.longOption(optstring, longopts);
      }
      this.nextchar = arg.slice(1);
    }

    const c = this.nextchar[0]!;
    this.nextchar = this.nextchar.slice(1);
    const at = optstring.indexOf(c);
    if (this.nextchar === '') this.optind++;
    if (at < 0 || c === ':' || c === ';') return Q;
    const code = c.charCodeAt(0);
    if (optstring[at + 1] === ':') {
      if (optstring[at + 2] === ':') {
        if (this.nextchar !== '') {
          this.optarg = this.nextchar;
          this.optind++;
        }
      } else if (this.nextchar !== '') {
        this.optarg = this.nextchar;
        this.optind++;
      } else if (this.optind === argc) {
        this.nextchar = '';
        return optstring[0] === ':' ? COLON : Q;
      } else {
        this.optarg = argv[this.optind++];
      }
      this.nextchar = '';
    }
    return code;
  }

  private longOption(optstring: string, longopts: readonly LongOption[]): number {
    const text = this.nextchar;
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    let found: LongOption | undefined = longopts.find((o) => o.name === name);
    if (found === undefined) {
      let ambiguous = false;
      for (const o of longopts) {
        if (!o.name.startsWith(name)) continue;
        if (found === undefined) found = o;
        else if (found.hasArg !== o.hasArg || found.val !== o.val) ambiguous = true;
      }
      if (ambiguous) {
        this.nextchar = '';
        this.optind++;
        return Q;
      }
    }
    if (found === undefined) {
      this.nextchar = '';
      this.optind++;
      return Q;
    }
    this.optind++;
    this.nextchar = '';
    if (eq >= 0) {
      if (found.hasArg !== 0) this.optarg = text.slice(eq + 1);
      else return Q;
    } else if (found.hasArg === 1) {
      if (this.optind < this.argv.length) this.optarg = this.argv[this.optind++];
      else return optstring[0] === ':' ? COLON : Q;
    }
    return found.val;
  }

  /** exchange moves the skipped non-options [firstNonopt, lastNonopt) after the options processed since. */
  private exchange(): void {
    const a = this.argv;
    const moved = a.slice(this.firstNonopt, this.lastNonopt);
    const opts = a.slice(this.lastNonopt, this.optind);
    a.splice(this.firstNonopt, this.optind - this.firstNonopt, ...opts, ...moved);
    this.firstNonopt += this.optind - this.lastNonopt;
    this.lastNonopt = this.optind;
  }
}

/** Q is getopt's '?' (unknown option or bad argument); COLON is ':' (missing argument, in ':' mode). */
export const Q = 63;
export const COLON = 58;
