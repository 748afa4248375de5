import { lookup as dnsLookup } from 'node:dns/promises';
import net from 'node:net';
import { Agent, buildConnector } from 'undici';

import { classifyAddress } from './ssrf.address.ts';

export { classifyAddress, isForbiddenAddress } from './ssrf.address.ts';

// SSRF guard for webhook delivery. Checking the URL at registration is only a courtesy: DNS can
// change (or rebind) at any time, so the real check happens on the resolved addresses at connect
// time, and the socket is then opened to exactly the vetted address.

export type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

export function validateWebhookUrl(raw: string, options: { allowPrivate?: boolean } = {}): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: 'webhook url is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, message: 'webhook url must use http or https' };
  }
  // Credentials in the URL would be stored and logged in clear text alongside deliveries.
  if (url.username !== '' || url.password !== '') {
    return { ok: false, message: 'webhook url must not contain a username or password' };
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return { ok: false, message: 'webhook url must have a host' };
  if (!options.allowPrivate) {
    // RFC 6761: these names always mean this machine; refuse early with a clear message.
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return { ok: false, message: 'webhook url must not point at localhost' };
    }
    const reason = net.isIP(host) ? classifyAddress(host) : null;
    if (reason !== null) {
      return { ok: false, message: `webhook url points at a forbidden address (${reason})` };
    }
  }
  return { ok: true, url };
}

export class ForbiddenTargetError extends Error {
  readonly code = 'WEBHOOK_TARGET_FORBIDDEN';
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`webhook target address ${address} for ${hostname} is forbidden (${reason})`);
    this.name = 'ForbiddenTargetError';
  }
}

export type LookupAll = (hostname: string) => Promise<string[]>;

const systemLookup: LookupAll = async (hostname) =>
  (await dnsLookup(hostname, { all: true })).map((entry) => entry.address);

export interface GuardedDispatcherOptions {
  allowPrivate: boolean;
  connectTimeoutMs?: number;
  /** Resolver override for tests; defaults to the system resolver (getaddrinfo). */
  lookup?: LookupAll;
}

type Connector = buildConnector.connector;
type ConnectOptions = buildConnector.Options;
type ConnectCallback = buildConnector.Callback;

export function createGuardedDispatcher(options: GuardedDispatcherOptions): Agent {
  const connect = createGuardedConnector(options);
  return new Agent({ connect });
}

export function createGuardedConnector(options: GuardedDispatcherOptions): Connector {
  const baseConnect = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
  const lookup = options.lookup ?? systemLookup;

  return (opts: ConnectOptions, callback: ConnectCallback) => {
    resolveVetted(opts.hostname, lookup, options.allowPrivate).then(
      (addresses) => connectFirst(baseConnect, opts, addresses, callback),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
}

async function resolveVetted(hostname: string, lookup: LookupAll, allowPrivate: boolean): Promise<string[]> {
  const addresses = net.isIP(hostname) ? [hostname] : [...new Set(await lookup(hostname))];
  if (addresses.length === 0) throw new Error(`no addresses found for ${hostname}`);
  if (!allowPrivate) {
    // Refuse if ANY answer is forbidden, not just the one we would pick: a name that mixes public
    // and private answers is either misconfigured or an attack, and we want the same verdict
    // every time regardless of resolver ordering.
    for (const address of addresses) {
      const reason = classifyAddress(address);
      if (reason !== null) throw new ForbiddenTargetError(hostname, address, reason);
    }
  }
  return addresses;
}

// Connect to the vetted literal addresses in resolver order (a poor man's happy eyeballs, so a
// dual-stack name still works when one family is unreachable). The TLS servername stays the
// original host name, so SNI and certificate checks are against the name, not the IP.
function connectFirst(
  baseConnect: Connector,
  opts: ConnectOptions,
  addresses: readonly string[],
  callback: ConnectCallback,
): void {
  const servername = opts.servername || (net.isIP(opts.hostname) ? undefined : opts.hostname);
  const attempt = (index: number): void => {
    const address = addresses[index];
    if (address === undefined) return;
    baseConnect({ ...opts, hostname: address, servername }, (...args) => {
      const [err] = args;
      if (err && index + 1 < addresses.length) attempt(index + 1);
      else callback(...args);
    });
  };
  attempt(0);
}
