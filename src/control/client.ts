import { connect } from 'node:net';
import { endianness } from 'node:os';
import { encodeRequestWord } from './codes.js';

/**
 * The client end of the control socket (conntrackd-protocol.md §4.1), as conntrackd's
 * do_local_request() does it: connect, send the request as one native-endian int32, then read the
 * reply until the daemon closes the connection. Only a failure to connect or to send is an error
 * (conntrackd's "can't connect: is conntrackd running? appropriate permissions?", exit status 1);
 * once the request is sent the client succeeds whatever the daemon does, and a connection reset
 * while reading simply ends the reply, as conntrackd's recv() loop ends.
 */

/** CANT_CONNECT is conntrackd's message when a request cannot be delivered. */
export const CANT_CONNECT = "can't connect: is conntrackd running? appropriate permissions?";

/** ControlClientErrorCode: what failed. */
export type ControlClientErrorCode = 'CTL_CONNECT' | 'CTL_SEND' | 'CTL_TIMEOUT';

/** ControlClientError is a request that could not be delivered or did not finish in time; `status` is the exit status. */
export class ControlClientError extends Error {
  override readonly name = 'ControlClientError';
  readonly status = 1;
  constructor(
    readonly code: ControlClientErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** NO_JSON is keepstate's message when a `--json` request got no answer: the daemon is not keepstated (conntrackd ignores the request). */
export const NO_JSON = 'no JSON reply: the daemon does not support --json (is it conntrackd?)';

/** ControlRequestOptions tune a request. */
export interface ControlRequestOptions {
  /** json: ask for a JSON reply (keepstate's framing, codes.ts). */
  readonly json?: boolean;
  /** onData receives the reply as it arrives; without it the reply is collected and returned. */
  readonly onData?: (chunk: Uint8Array) => void;
  /** timeoutMs: give up (ControlClientError 'CTL_TIMEOUT') when the reply has not ended by then; conntrackd's client waits forever, the default. */
  readonly timeoutMs?: number;
}

/** encodeRequest is the 4 bytes a client sends for a request word, in host byte order. */
export function encodeRequest(code: number, json: boolean): Uint8Array {
  const b = Buffer.alloc(4);
  const word = encodeRequestWord(code, json);
  if (endianness() === 'LE') b.writeInt32LE(word, 0);
  else b.writeInt32BE(word, 0);
  return b;
}

/**
 * controlRequest sends one request to the daemon listening at `path` and resolves with its reply
 * (empty when `onData` consumed it). It rejects with ControlClientError('CTL_CONNECT' or
 * 'CTL_SEND', CANT_CONNECT) when the request cannot be delivered, 'CTL_TIMEOUT' past `timeoutMs`.
 */
export function controlRequest(path: string, code: number, opts: ControlRequestOptions = {}): Promise<Buffer> {
  const request = encodeRequest(code, opts.json === true);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sent = false;
    let settled = false;
    const s = connect({ path, allowHalfOpen: true });
    let timer: NodeJS.Timeout | undefined;
    const settle = (err?: ControlClientError): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      s.destroy();
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      timer = setTimeout(() => settle(new ControlClientError('CTL_TIMEOUT', `no complete reply within ${ms} ms`)), ms);
    }
    let connected = false;
    s.once('connect', () => {
      connected = true;
      s.write(request, (err) => {
        if (err !== undefined && err !== null) settle(new ControlClientError('CTL_SEND', CANT_CONNECT, { cause: err }));
        else sent = true;
      });
    });
    s.on('data', (chunk: Buffer) => {
      if (opts.onData !== undefined) opts.onData(chunk);
      else chunks.push(chunk);
    });
    s.on('end', () => settle());
    s.on('error', (e) => {
      if (!connected) settle(new ControlClientError('CTL_CONNECT', CANT_CONNECT, { cause: e }));
      else if (!sent) settle(new ControlClientError('CTL_SEND', CANT_CONNECT, { cause: e }));
      else settle(); // once the request went out, an error only ends the reply
    });
    s.on('close', () => settle());
  });
}

/** ClientOutcome is what a command-line client does after a request: its exit status and, on failure, the message to log. */
export type ClientOutcome = { readonly status: 0 } | { readonly status: 1; readonly message: string };

/**
 * runControlRequest is the client side of `keepstated -C file REQUEST`: it sends the request to
 * `path` (the config's UNIX Path; undefined when the config has none, which fails like conntrackd's
 * empty path), streams the reply to `out`, and returns the exit status conntrackd would: 0 once the
 * request was delivered, 1 with CANT_CONNECT otherwise. With `json`, an empty reply is an error
 * (NO_JSON): only keepstated answers JSON requests.
 */
export async function runControlRequest(path: string | undefined, code: number, json: boolean, out: (chunk: Uint8Array) => void): Promise<ClientOutcome> {
  if (path === undefined || path === '') return { status: 1, message: CANT_CONNECT };
  let bytes = 0;
  try {
    await controlRequest(path, code, {
      json,
      onData: (c) => {
        bytes += c.length;
        out(c);
      },
    });
  } catch (e) {
    if (e instanceof ControlClientError) return { status: 1, message: e.message };
    throw e;
  }
  if (json && bytes === 0) return { status: 1, message: NO_JSON };
  return { status: 0 };
}
