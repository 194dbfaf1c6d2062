// Real processes for the browser tests: the gateway and natsembed built from this repo, run
// on loopback, and Debian's chromium driven by playwright-core.

import { spawn, execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const artifacts = path.join(repoRoot, 'web/e2e/artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const run = promisify(execFile);
const children = new Set();
const scratch = [];
const started = []; // {name, logs} of every process this file ran, for saveLogs

/**
 * skipReason is why browser tests cannot run here, or false. Outside CI a missing chromium
 * skips them with this reason; with CI=true nothing is skipped, so a missing browser fails.
 */
export function skipReason() {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true') return false;
  return `no browser at ${CHROMIUM} (install it with: apt-get install -y chromium); set CI=true to fail instead of skipping`;
}

/** tempDir makes a directory removed when the test process ends. */
export function tempDir(prefix = 'chathub-e2e-') {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  scratch.push(d);
  return d;
}

/**
 * build compiles the gateway and natsembed once per test file (Go's build cache makes the
 * second file's build quick). CHATHUB_GATEWAY_BIN / CHATHUB_NATSEMBED_BIN use given binaries.
 */
export async function build() {
  const dir = tempDir('chathub-bin-');
  const out = {};
  for (const [name, env] of [['gateway', 'CHATHUB_GATEWAY_BIN'], ['natsembed', 'CHATHUB_NATSEMBED_BIN']]) {
    if (process.env[env]) {
      out[name] = process.env[env];
      continue;
    }
    out[name] = path.join(dir, name);
    try {
      await run('go', ['build', '-o', out[name], `./cmd/${name}`], { cwd: repoRoot, maxBuffer: 1 << 24 });
    } catch (err) {
      throw new Error(`go build ./cmd/${name} failed:\n${err.stderr || err.message}`);
    }
  }
  return out;
}

/**
 * start runs a binary and waits for the slog line holding `msg="<line>"`, returning the
 * value of `<field>=` on it. Everything it logs is kept for artifacts/.
 */
function start(bin, args, { name, line, field, timeout = 20000, env = {} }) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  const logs = [];
  started.push({ name: `${name} ${args.join(' ')}`, logs });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    children.delete(proc);
    resolve({ code, signal });
  }));
  const found = new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk) => {
      const text = chunk.toString();
      logs.push(text);
      buf += text;
      for (;;) {
        const nl = buf.indexOf('\n');
        if (nl < 0) break;
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (l.includes(`msg="${line}"`) || l.includes(`msg=${line.replace(/ /g, '_')}`)) {
          const m = l.match(new RegExp(`\\b${field}=("?)([^ "]+)\\1`));
          if (m) resolve(m[2]);
        }
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exited.then(({ code, signal }) => reject(new Error(`${name} exited (${code ?? signal}) before logging ${line}:\n${logs.join('')}`)));
    setTimeout(() => reject(new Error(`${name} did not log ${line} within ${timeout} ms:\n${logs.join('')}`)), timeout).unref();
  });
  return { proc, logs, exited, found };
}

/** startNats runs natsembed with its store in a fresh directory. */
export async function startNats(bins) {
  const storeDir = tempDir('chathub-nats-');
  const p = start(bins.natsembed, ['--addr', '127.0.0.1:0', '--store-dir', storeDir], { name: 'natsembed', line: 'nats listening', field: 'url' });
  const url = await p.found;
  return { url, logs: p.logs, stop: () => stop(p) };
}

/**
 * startGateway runs a gateway and waits until /readyz answers 200. With natsUrl empty it
 * embeds its own NATS in dataDir, reachable in-process only. addr "127.0.0.1:PORT" restarts one on a known port.
 */
export async function startGateway(bins, { dataDir = tempDir('chathub-gw-'), natsUrl = '', id = '', addr = '127.0.0.1:0', grace = '', extra = [], env = {} } = {}) {
  const args = ['--addr', addr, '--data-dir', dataDir, ...extra];
  // The embedded NATS stays in-process: several gateways of a test must not all take 4222.
  if (natsUrl) args.push('--nats-url', natsUrl);
  else args.push('--embedded-nats-addr', 'none');
  if (id) args.push('--gateway-id', id);
  if (grace) args.push('--grace', grace);
  const p = start(bins.gateway, args, { name: `gateway ${id}`, line: 'gateway listening', field: 'addr', env });
  const listen = await p.found;
  const base = `http://${listen}`;
  await waitReady(base, p);
  return {
    base,
    addr: listen,
    extra,
    dataDir,
    natsUrl,
    id,
    logs: p.logs,
    exited: p.exited,
    stop: () => stop(p),
    kill: () => p.proc.kill('SIGKILL'),
  };
}

async function waitReady(base, p, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    if (p.proc.exitCode !== null) throw new Error(`gateway exited before ready:\n${p.logs.join('')}`);
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 50)); // polling a server, not waiting on the page
  }
  throw new Error(`${base}/readyz not 200 within ${timeout} ms (${last}):\n${p.logs.join('')}`);
}

/** stop sends SIGTERM and resolves with the exit code (a clean drain is 0). */
async function stop(p, timeout = 15000) {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return p.proc.exitCode;
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), timeout);
  const { code, signal } = await p.exited;
  clearTimeout(t);
  return code ?? signal;
}

/** launch starts headless chromium with the flags this machine needs. */
export async function launch() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** saveLogs writes the logs of every process started so far to web/e2e/artifacts/NAME.log. */
export function saveLogs(name) {
  mkdirSync(artifacts, { recursive: true });
  const text = started.map((p) => `==== ${p.name}\n${p.logs.join('')}`).join('\n');
  writeFileSync(path.join(artifacts, `${name}.log`), text);
}

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(1); });

/** jwt mints an HS256 token, as an identity provider of a token-mode deployment would. */
export function jwt(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  const sig = createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${sig}`;
}
