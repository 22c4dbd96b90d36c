// Portitor's TypeScript SDK: the helpers the Rust SDK (`portitor-guest`)
// gives, over the WIT's types, which `build.mjs` generates from the WIT
// into `types/` (never written by hand). A plugin is `plugin.ts` exporting
// the handler of its kind, e.g.
//
//   export const pushHandler: typeof import('portitor:plugin/push-handler@0.1.0') = { path, handle };
//
// built with `node sdk/typescript/build.mjs`. Throw the errors below to fail
// a call; they reach the runtime as the WIT's `plugin-error`.

import { all as configAll, get as configGet } from 'portitor:plugin/config@0.1.0';
import { checkpoint as cursorCheckpoint, current as cursorCurrent } from 'portitor:plugin/cursor@0.1.0';
import * as ftp from 'portitor:plugin/ftp@0.1.0';
import type { Entry, FtpError } from 'portitor:plugin/ftp@0.1.0';
import { send as httpSend } from 'portitor:plugin/http@0.1.0';
import type { HttpError, Response as WitResponse } from 'portitor:plugin/http@0.1.0';
import { write } from 'portitor:plugin/log@0.1.0';
import type {
  Batch,
  Event,
  Finding,
  HttpRequest,
  HttpResponse,
  Order,
  PluginError,
  PushOutcome,
  Receipt,
  Severity,
  WarehouseOrder,
} from 'portitor:plugin/types@0.1.0';

export type {
  Batch,
  Event,
  Finding,
  HttpRequest,
  HttpResponse,
  Identity,
  Order,
  PluginError,
  PushOutcome,
  Receipt,
  WarehouseOrder,
} from 'portitor:plugin/types@0.1.0';

/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

// Typed errors: `throw invalidInput('...')`.
/** The input cannot be processed as it is: retrying will not help. */
export const invalidInput = (message: string): PluginError => ({ tag: 'invalid-input', val: message });
/** The partner refused the plugin's credentials. */
export const unauthorized = (message: string): PluginError => ({ tag: 'unauthorized', val: message });
/** Worth retrying later: the partner is down or busy. */
export const transient = (message: string): PluginError => ({ tag: 'transient', val: message });
/** A failure that needs a person. */
export const fatal = (message: string): PluginError => ({ tag: 'fatal', val: message });

// Events and outcomes.
/** An event of `kind` (`order`, `shipment`, `tracking`) for `externalId`. */
export function event(kind: string, externalId: string, payload: { [key: string]: Json }): Event {
  return { kind, externalId, payload: JSON.stringify(payload) };
}

/** An order in Portitor's order model. */
export const orderEvent = (externalId: string, payload: { [key: string]: Json }): Event =>
  event('order', externalId, payload);

export const pushOutcome = (events: Event[], response?: HttpResponse): PushOutcome => ({ events, response });

export const batch = (events: Event[], nextCursor: string, hasMore = false): Batch => ({ events, nextCursor, hasMore });

// The partner's request.
/** The body as JSON; `invalidInput` when it is not. */
export function requestJson(request: HttpRequest): Json {
  try {
    return JSON.parse(new TextDecoder().decode(request.body)) as Json;
  } catch (error) {
    throw invalidInput(`the body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A request header by name (any case). */
export function header(request: HttpRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return request.headers.find(([key]) => key.toLowerCase() === wanted)?.[1];
}

// Outbound HTTP, under the manifest's egress policy.
export class Response {
  readonly status: number;
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array;

  constructor(response: WitResponse) {
    this.status = response.status;
    this.headers = response.headers;
    this.body = response.body;
  }

  ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  text(): string {
    return new TextDecoder().decode(this.body);
  }

  json(): Json {
    try {
      return JSON.parse(this.text()) as Json;
    } catch (error) {
      throw fatal(`partner's response is not the expected JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

export interface RequestOptions {
  /** A connection named in the manifest: `url` is relative to its base URL
   * and the host attaches its credentials. */
  connection?: string;
  headers?: { [name: string]: string };
  body?: Uint8Array;
  timeoutMs?: number;
}

/** Sends a request. Any status is an answer (see `raiseForStatus`); a
 * request that fails throws as the Rust SDK does: `transient` for a timeout
 * or the network, `fatal` otherwise. */
export function send(method: string, url: string, options: RequestOptions = {}): Response {
  try {
    return new Response(
      httpSend({
        method,
        url,
        headers: Object.entries(options.headers ?? {}),
        body: options.body ?? new Uint8Array(0),
        connection: options.connection,
        timeoutMs: options.timeoutMs,
      }),
    );
  } catch (error) {
    const failure = (error as { payload?: HttpError }).payload;
    if (failure === undefined) throw error;
    switch (failure.tag) {
      case 'timeout':
        throw transient('partner timed out');
      case 'transport':
        throw transient(`partner unreachable: ${failure.val}`);
      case 'denied':
        throw fatal(`request denied by the sandbox: ${failure.val}`);
      case 'unknown-connection':
        throw fatal(`unknown connection \`${failure.val}\``);
      case 'too-large':
        throw fatal(`too large: ${failure.val}`);
      default:
        throw fatal(`invalid request: ${failure.val}`);
    }
  }
}

/** GETs JSON; an error status throws as `raiseForStatus` says. */
export function getJson(url: string, connection?: string): Json {
  return raiseForStatus(send('GET', url, { connection, headers: { accept: 'application/json' } })).json();
}

/** POSTs `body` as JSON; the answer as it is (see `raiseForStatus`). */
export function postJson(url: string, body: Json, options: RequestOptions = {}): Response {
  const headers = { 'content-type': 'application/json', ...(options.headers ?? {}) };
  return send('POST', url, { ...options, headers, body: new TextEncoder().encode(JSON.stringify(body)) });
}

/** The response, or the error that says whether retrying can help: 408, 429
 * and 5xx are `transient`, 401 and 403 `unauthorized`, others `fatal`. */
export function raiseForStatus(response: Response): Response {
  const status = response.status;
  if (status >= 200 && status < 400) {
    return response;
  }
  const message = `partner answered ${status}: ${new TextDecoder().decode(response.body.slice(0, 200))}`;
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) throw transient(message);
  throw status === 401 || status === 403 ? unauthorized(message) : fatal(message);
}

// Configuration (non-secret values from the manifest) and logging.
export const config = (key: string, fallback?: string): string | undefined => configGet(key) ?? fallback;
export const allConfig = (): Array<[string, string]> => configAll();

export function requireConfig(key: string): string {
  const value = configGet(key);
  if (value === undefined) {
    throw fatal(`the manifest's [config] has no \`${key}\``);
  }
  return value;
}

export const info = (message: string): void => write('info', message);
export const warn = (message: string): void => write('warn', message);
export const error = (message: string): void => write('error', message);

// Validators, mappers and warehouses.
/** A finding about `field` (a JSON Pointer such as `/lineItems/0/sku`). */
export const finding = (severity: Severity, field: string, value: Json | undefined, message: string): Finding => ({
  field,
  value: typeof value === 'string' ? value : JSON.stringify(value ?? null),
  severity,
  message,
});

/** The order model of an order the pipeline passes in. */
export function orderModel(order: Order): { [key: string]: Json } {
  try {
    return JSON.parse(order.payload) as { [key: string]: Json };
  } catch (error) {
    throw invalidInput(`the order is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A mapped order as JSON. */
export const warehouseJson = (body: Json): WarehouseOrder => ({
  contentType: 'application/json',
  body: new TextEncoder().encode(JSON.stringify(body)),
});

export const receipt = (warehouseOrderId: string | undefined, message: string): Receipt => ({ warehouseOrderId, message });

// FTP or SFTP on connections named in the manifest; the host holds the
// server's address and credentials.
/** An FTP error as the Rust SDK maps it: the network `transient`, the rest `fatal`. */
function ftpError(error: unknown): PluginError {
  const failure = (error as { payload?: FtpError }).payload;
  if (failure === undefined) throw error;
  switch (failure.tag) {
    case 'timeout':
      return transient('FTP server timed out');
    case 'transport':
      return transient(`FTP server unreachable: ${failure.val}`);
    case 'refused':
      return transient(`FTP server refused: ${failure.val}`);
    case 'denied':
      return fatal(`FTP denied by the sandbox: ${failure.val}`);
    case 'unknown-connection':
      return fatal(`unknown FTP connection \`${failure.val}\``);
    case 'not-found':
      return fatal(`FTP file not found: ${failure.val}`);
    default:
      return fatal(`FTP file too large: ${failure.val}`);
  }
}

/** The manifest's FTP connection `name`; every method throws the typed errors above. */
export class Ftp {
  constructor(readonly name: string) {}

  private call<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw ftpError(error);
    }
  }

  /** The entries of `dir`, with size and modification time. */
  list(dir: string): Entry[] {
    return this.call(() => ftp.list(this.name, dir));
  }

  retrieve(path: string): Uint8Array {
    return this.call(() => ftp.retrieve(this.name, path));
  }

  /** Writes `data` to `path`, replacing the file if it exists. */
  store(path: string, data: Uint8Array): void {
    this.call(() => ftp.store(this.name, path, data));
  }

  /** Renames `from` to `to` (also how files move to an archive folder). */
  rename(from: string, to: string): void {
    this.call(() => ftp.rename(this.name, from, to));
  }

  delete(path: string): void {
    this.call(() => ftp.delete(this.name, path));
  }

  /** Creates directory `path`; an existing directory is not an error. */
  makeDir(path: string): void {
    this.call(() => ftp.makeDir(this.name, path));
  }
}

// The cursor of the current pull run.
/** The cursor this run started from, or the last checkpoint of this run. */
export const currentCursor = (): string | undefined => cursorCurrent();

/** Makes `events` durable, then moves the cursor to `next`: in long
 * backfills, and before anything destructive (archiving a partner's file). */
export function checkpoint(events: Event[], next: string): void {
  try {
    cursorCheckpoint(events, next);
  } catch (error) {
    throw transient(`checkpoint failed: ${(error as { payload?: string }).payload ?? String(error)}`);
  }
}
