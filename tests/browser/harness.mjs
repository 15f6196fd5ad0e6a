// What every browser test shares: the real `flare serve --demo` on a fresh database and a free port, Debian's
// Chromium driven by playwright-core (never a downloaded browser), the JSON API the expectations are derived
// from, and a record of every console error on every page opened.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const FLARE = process.env.FLARE_BIN || join(ROOT, 'target', 'debug', 'flare');
export const CHROMIUM = process.env.FLARE_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.FLARE_BROWSER_ARTIFACTS || join(ROOT, '.run', 'browser');

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/// Polls `probe` until it returns true, failing after `ms` with `what`.
export async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

export class Flare {
  static async start() {
    if (!existsSync(FLARE)) throw new Error(`no flare binary at ${FLARE}: build it with cargo build -p flare-cli`);
    const dir = await mkdtemp(join(tmpdir(), 'flare-browser-'));
    const db = join(dir, 'flare.db');
    const port = await freePort();
    const child = spawn(FLARE, ['--db', db, 'serve', '--demo', '--bind', `127.0.0.1:${port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    let log = '';
    child.stderr.on('data', (chunk) => { log += chunk; });
    const flare = new Flare(child, dir, db, `http://127.0.0.1:${port}`);
    await until('flare serve to answer /healthz', 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`flare serve exited with ${child.exitCode}:\n${log}`);
      try {
        return (await fetch(`${flare.base}/healthz`)).ok;
      } catch {
        return false;
      }
    });
    return flare;
  }

  constructor(child, dir, db, base) {
    Object.assign(this, { child, dir, db, base });
  }

  /// Reads as staff from now on, with this key's token; `json(path, { anonymous: true })` still reads as the public.
  readAs(token) {
    this.token = token;
  }

  async json(path, { anonymous = false, ...init } = {}) {
    const headers = { ...(init.headers ?? {}) };
    if (this.token && !anonymous) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(`${this.base}${path}`, { ...init, headers });
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    return response.json();
  }

  /// Every incident the API returns for `query`, following its cursor.
  async incidents(query, { anonymous = false } = {}) {
    const all = [];
    let cursor = null;
    do {
      const params = new URLSearchParams(query);
      if (cursor) params.set('cursor', cursor);
      const page = await this.json(`/api/incidents?${params}`, { anonymous });
      all.push(...page.incidents);
      cursor = page.next;
    } while (cursor);
    return all;
  }

  /// A new API key made the way an admin makes one: `flare keys create`. Prints its token on stdout.
  async key(scope) {
    const { stdout } = await run(FLARE, ['--db', this.db, 'keys', 'create', '--name', 'Playwright runner', '--scope', scope]);
    return stdout.trim();
  }

  async stop() {
    if (this.child.exitCode === null) {
      const exited = new Promise((ok) => this.child.once('exit', ok));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export class Browser {
  static async start() {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: scripts/test installs Debian's chromium`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    await mkdir(ARTIFACTS, { recursive: true });
    return new Browser(browser);
  }

  constructor(browser) {
    this.browser = browser;
    /// `url: message` of every console error and uncaught exception on any page opened.
    this.errors = [];
    this.visited = new Set();
  }

  /// A fresh page of its own context (its own viewport, colour scheme and request headers, such as a key's
  /// Authorization) that records its console errors.
  async page({ width = 1280, height = 800, colorScheme = 'light', javaScriptEnabled = true, headers = {} } = {}) {
    const context = await this.browser.newContext({
      viewport: { width, height }, colorScheme, javaScriptEnabled, extraHTTPHeaders: headers,
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(`${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => this.errors.push(`${page.url()}: ${error.message}`));
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) this.visited.add(frame.url()); });
    return page;
  }

  async stop() {
    await this.browser.close();
  }
}
