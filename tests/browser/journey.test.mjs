// roost's login and consent pages in a real headless Chromium (Debian's package), driven by
// playwright-core: the allow and deny journeys, and that the pages cannot be framed.
// Screenshots go to target/browser/. Run through ./scripts/test, or: node --test (after
// `cargo build`; ROOST_BIN overrides the binary, CHROMIUM the browser).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.ROOST_BIN ?? path.join(ROOT, 'target/debug/roost');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target/browser');
const PASSWORD = 'browser-test-password';
// The scopes and tweet.write, each with the words the consent page must show for it.
const SCOPES = {
  'tweet.read': 'Read posts you can see, including those of protected accounts you follow.',
  'tweet.write': 'Post and repost for you.',
  'users.read': 'See any account you can see, including protected accounts you follow.',
  'follows.read': 'See who you follow and who follows you.',
  'follows.write': 'Follow and unfollow accounts for you.',
  'space.read': 'See all the Spaces you can see.',
  'offline.access': 'Stay connected to your account until you revoke access.',
};

let dir, roost, base, callbackServer, callbackBase, app, browser;
const callbacks = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// SQLite, or PostgreSQL with ROOST_TEST_STORE=postgres; set in `before`, once `dir` exists.
let dbUrl;

function roostCli(...args) {
  return execFileSync(BIN, [...args, '--database-url', dbUrl], { encoding: 'utf8' });
}

async function waitForHealth(url, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`roost did not answer ${url}/healthz within ${ms} ms`);
}

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizeUrl(state, challenge) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: `${callbackBase}/callback`,
    scope: Object.keys(SCOPES).join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${base}/i/oauth2/authorize?${q}`;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(path.join(tmpdir(), 'roost-browser-'));
  dbUrl = execFileSync(path.join(ROOT, 'scripts/test-database-url'), [dir], { encoding: 'utf8' }).trim();
  callbackServer = http.createServer((req, res) => {
    const url = new URL(req.url, callbackBase);
    if (url.pathname === '/frame') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>framer</title><iframe id="f" src="${url.searchParams.get('src')}" width="400" height="600"></iframe>`);
      return;
    }
    // Only the redirects: Chromium also asks this origin for /favicon.ico once it lands.
    if (url.pathname === '/callback') callbacks.push(url);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('callback received');
  });
  await new Promise((r) => callbackServer.listen(0, '127.0.0.1', r));
  callbackBase = `http://127.0.0.1:${callbackServer.address().port}`;

  roostCli('migrate');
  app = JSON.parse(
    roostCli('apps', 'create', '--name', 'Browser Test App', '--project', 'Browser Tests', '--type', 'confidential',
      '--callback', `${callbackBase}/callback`, '--json'),
  );
  roostCli('users', 'create', '--username', 'alice', '--name', 'Alice Example', '--password', PASSWORD, '--json');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  roost = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', dbUrl], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  roost.stderr.on('data', (d) => (log += d));
  roost.on('exit', (code) => {
    if (code) console.error(`roost exited with ${code}:\n${log}`);
  });
  await waitForHealth(base);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true, // playwright adds --headless
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  roost?.kill('SIGTERM');
  callbackServer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Fails if the page is wider than the viewport (a phone would have to scroll sideways). */
async function assertFitsWidth(page, what) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${what} is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
}

async function signIn(page, url, shot) {
  await page.goto(url);
  assert.match(await page.locator('h1').innerText(), /Sign in/);
  const lead = await page.locator('main').innerText();
  assert.match(lead, /Browser Test App/);
  assert.match(lead, /Browser Tests/, 'the login page names the Project too');
  await assertFitsWidth(page, 'the login page');
  if (shot) await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
  // Typed key by key, as a person does (fill() would set the value in one go).
  await page.locator('#username').pressSequentially('alice');
  await page.locator('#password').pressSequentially(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('button[value=allow]');
}

/** The consent page names the App, its Project, the user and every scope in plain words. */
async function checkConsent(page) {
  const consent = await page.locator('main').innerText();
  assert.match(consent, /Browser Test App/);
  assert.match(consent, /Browser Tests/);
  assert.match(consent, /Alice Example/);
  const items = await page.locator('.scopes li').allInnerTexts();
  assert.equal(items.length, Object.keys(SCOPES).length);
  for (const [name, words] of Object.entries(SCOPES)) {
    assert.ok(items.some((i) => i.includes(words) && i.includes(name)), `scope ${name} is shown as "${words}"`);
  }
  assert.match(consent, new RegExp(`sent to\\s+${callbackBase.replace(/[.:/]/g, '\\$&')}`));
  await assertFitsWidth(page, 'the consent page');
}

/** What the callback server received last: it must be the page the browser landed on. */
function landedAtCallback(page) {
  const landed = new URL(page.url());
  assert.equal(landed.origin + landed.pathname, `${callbackBase}/callback`);
  const received = callbacks.at(-1);
  assert.ok(received, 'the callback server received the redirect');
  assert.equal(received.href, landed.href);
  return received.searchParams;
}

test('allow: sign in, authorize, land on the callback, exchange the code, call the API', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(8).toString('hex');
  await signIn(page, authorizeUrl(state, challenge), 'login-phone.png');
  await checkConsent(page);
  await page.screenshot({ path: path.join(SHOTS, 'consent-phone.png'), fullPage: true });
  await Promise.all([
    page.waitForURL(`${callbackBase}/callback**`),
    page.getByRole('button', { name: 'Authorize app' }).click(),
  ]);
  const landed = landedAtCallback(page);
  assert.equal(landed.get('state'), state);
  const code = landed.get('code');
  assert.ok(code, `no code in ${landed}`);
  assert.equal(landed.get('error'), null);

  const res = await fetch(`${base}/2/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${callbackBase}/callback`, code_verifier: verifier }),
  });
  const tokens = await res.json();
  assert.equal(res.status, 200, JSON.stringify(tokens));
  assert.deepEqual(tokens.scope.split(' ').sort(), Object.keys(SCOPES).sort());
  const me = await (await fetch(`${base}/2/users/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  assert.equal(me.data.username, 'alice');
  await context.close();
});

test('deny: Cancel sends error=access_denied and the state back', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const state = 'deny-' + crypto.randomBytes(4).toString('hex');
  await signIn(page, authorizeUrl(state, pkce().challenge), 'login-desktop.png');
  await checkConsent(page);
  await page.screenshot({ path: path.join(SHOTS, 'consent-desktop.png'), fullPage: true });
  await Promise.all([page.waitForURL(`${callbackBase}/callback**`), page.getByRole('button', { name: 'Cancel' }).click()]);
  const landed = landedAtCallback(page);
  assert.equal(landed.get('error'), 'access_denied');
  assert.equal(landed.get('state'), state);
  assert.equal(landed.get('code'), null);
  await context.close();
});

test('an unregistered redirect_uri gets an error page, not a redirect', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const url = authorizeUrl('s', pkce().challenge).replace(encodeURIComponent(`${callbackBase}/callback`), encodeURIComponent('https://evil.test/cb'));
  const response = await page.goto(url);
  assert.equal(response.status(), 400);
  assert.equal(new URL(page.url()).origin, base);
  assert.match(await page.locator('main').innerText(), /not among the callback URLs registered/);
  await page.screenshot({ path: path.join(SHOTS, 'error.png'), fullPage: true });
  await context.close();
});

test('sec_a10: the login page cannot be framed by another site', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const target = authorizeUrl('framed', pkce().challenge);
  await page.goto(`${callbackBase}/frame?src=${encodeURIComponent(target)}`);
  // The main page's load event waits for its frames, a refused one included: no sleep needed.
  await page.waitForLoadState('load');
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame, 'the iframe exists');
  const username = await frame.$('#username').catch(() => null);
  assert.equal(username, null, 'the framed page must not render the login form');
  await context.close();
});
