// The developer portal and the connected-apps page in a real headless Chromium (Debian's
// package), driven by playwright-core: a developer makes a Project and a confidential App, copies
// its keys; a client library (twitter-api-v2) completes the OAuth 2.0 flow with them while a
// second person consents; that person revokes the App; the developer regenerates the Client
// Secret. Every page is photographed at desktop and phone widths (target/browser/portal/), and
// none may scroll sideways on a phone. Run through ./scripts/test, or: node --test (after
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
import { ApiResponseError, TwitterApi } from 'twitter-api-v2';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.ROOST_BIN ?? path.join(ROOT, 'target/debug/roost');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target/browser/portal');
const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const SCOPES = ['tweet.read', 'users.read', 'offline.access'];
const APP_NAME = 'Portal Test App';
const PROJECT_NAME = 'Portal Tests';
const devon = { username: 'devon', name: 'Devon Developer', password: `devon-${crypto.randomBytes(9).toString('base64url')}` };
const ursula = { username: 'ursula', name: 'Ursula User', password: `ursula-${crypto.randomBytes(9).toString('base64url')}` };

let dir, dbUrl, roost, base, callbackServer, callbackBase, browser;
// Each person keeps one browser context (their cookies) across the tests, which run in order.
let devonPage, ursulaPage;
// What the tests learn as they go: the Project and App ids, the App's credentials.
const made = {};
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

/** How twitter-api-v2 is pointed at roost (as in tests/clients/node): its requests and its authorize link. */
function roostPlugin() {
  return {
    onBeforeRequestConfig({ params }) {
      params.url = params.url.replace(/^https:\/\/api\.x\.com(?=\/)/, base);
    },
    onOAuth2RequestToken({ result }) {
      result.url = result.url.replace('https://x.com/i/', `${base}/i/`);
    },
  };
}

function library(clientSecret) {
  return new TwitterApi({ clientId: made.clientId, clientSecret }, { plugins: [roostPlugin()], httpAgent: new http.Agent() });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(path.join(tmpdir(), 'roost-portal-'));
  dbUrl = execFileSync(path.join(ROOT, 'scripts/test-database-url'), [dir], { encoding: 'utf8' }).trim();
  callbackServer = http.createServer((req, res) => {
    const url = new URL(req.url, callbackBase);
    res.setHeader('content-type', 'text/html');
    if (url.pathname === '/frame') {
      res.end(`<!doctype html><title>framer</title><iframe id="f" src="${url.searchParams.get('src')}" width="600" height="600"></iframe>`);
      return;
    }
    if (url.pathname === '/forge') {
      // Another site's form aimed at the portal: it cannot know the browser's anti-forgery token.
      res.end(`<!doctype html><title>forger</title><form method="post" action="${base}/portal/projects">
<input type="hidden" name="name" value="Forged Project"><input type="hidden" name="csrf_token" value="guessed">
<button type="submit">Win a prize</button></form>`);
      return;
    }
    // Only the redirects: Chromium also asks this origin for /favicon.ico once it lands.
    if (url.pathname === '/callback') callbacks.push(url);
    res.end('<!doctype html><title>callback</title><p>callback received</p>');
  });
  await new Promise((r) => callbackServer.listen(0, '127.0.0.1', r));
  callbackBase = `http://127.0.0.1:${callbackServer.address().port}`;

  roostCli('migrate');
  for (const u of [devon, ursula]) {
    roostCli('users', 'create', '--username', u.username, '--name', u.name, '--password', u.password, '--json');
  }
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
  const devonContext = await browser.newContext({ viewport: WIDTHS.desktop });
  await devonContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  devonPage = await devonContext.newPage();
  ursulaPage = await (await browser.newContext({ viewport: WIDTHS.desktop })).newPage();
});

after(async () => {
  await browser?.close();
  roost?.kill('SIGTERM');
  callbackServer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Photographs the page as it is at both widths, without reloading it (some pages are the answer
 * to a post, shown once), and fails if it is wider than a phone's viewport.
 */
async function shoot(page, name) {
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    await page.setViewportSize(viewport);
    if (width === 'phone') {
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.ok(scrollWidth <= innerWidth, `${name} is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
    }
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDTHS.desktop);
}

const idOf = (url, kind) => new URL(url).pathname.match(new RegExp(`/portal/${kind}/(\\d+)`))?.[1];

/** Presses Tab until the element with this id has the focus (a bounded number of times). */
async function tabTo(page, id) {
  for (let i = 0; i < 40; i++) {
    if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached #${id}`);
}

test('devon signs in and creates a Project and a confidential App with the keyboard alone, and copies its keys', async () => {
  const page = devonPage;
  await page.goto(`${base}/portal`);
  assert.equal(new URL(page.url()).pathname, '/login', 'the portal sends a stranger to sign in');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/portal');
  assert.match(await page.locator('h1').innerText(), /Sign in/);
  await shoot(page, 'signin');

  // Keyboard only: the username field has the focus on arrival; Tab to the password, Enter sends.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'username');
  await page.keyboard.type(devon.username);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
  await page.keyboard.type(devon.password);
  await Promise.all([page.waitForURL(`${base}/portal`), page.keyboard.press('Enter')]);
  assert.match(await page.locator('main').innerText(), /You have no Projects yet/);
  assert.match(await page.locator('header').innerText(), /@devon/);
  await shoot(page, 'projects-empty');

  await page.locator('#project-name').fill(PROJECT_NAME);
  await Promise.all([page.waitForURL(/\/portal\/projects\/\d+/), page.getByRole('button', { name: 'Create Project' }).click()]);
  made.projectId = idOf(page.url(), 'projects');
  assert.equal(await page.locator('h1').innerText(), PROJECT_NAME);
  assert.match(await page.locator('.notice').innerText(), /Project created/);
  await shoot(page, 'project');

  await Promise.all([page.waitForURL(/\/apps\/new$/), page.getByRole('link', { name: 'Add an App' }).click()]);
  await shoot(page, 'app-new');
  // Keyboard only again; the confidential type is the one checked already.
  await tabTo(page, 'name');
  await page.keyboard.type(APP_NAME);
  await page.keyboard.press('Tab');
  await page.keyboard.type('Made by the browser test.');
  await page.keyboard.press('Tab');
  await page.keyboard.type('https://example.com');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.value), 'web', 'Tab reaches the checked App type');
  await tabTo(page, 'callback');
  await page.keyboard.type(`${callbackBase}/callback`);
  await Promise.all([page.waitForURL(`${base}/portal/projects/${made.projectId}/apps`), page.keyboard.press('Enter')]);

  // The answer to the post is the keys page with every secret shown once.
  assert.match(await page.locator('.notice').innerText(), /App created/);
  const shown = page.locator('.secret-box');
  made.clientId = await shown.locator('input.secret[aria-label="Client ID"]').inputValue();
  made.clientSecret = await shown.locator('input.secret[aria-label="Client Secret"]').inputValue();
  assert.ok(made.clientId.length >= 20, `a Client ID, got ${made.clientId}`);
  assert.ok(made.clientSecret.length >= 40, 'a Client Secret');
  assert.equal(await shown.locator('input.secret[aria-label="API Key"]').count(), 1);
  assert.equal(await shown.locator('input.secret[aria-label="API Key Secret"]').count(), 1);
  for (const input of await page.locator('input.secret').all()) {
    assert.equal(await input.getAttribute('readonly'), '', 'secret fields are readonly');
  }

  // Progressive enhancement: portal.js reveals the copy buttons and they copy the field.
  const secretField = shown.locator('input.secret[aria-label="Client Secret"]');
  const copy = page.locator(`button.copy[data-copy="${await secretField.getAttribute('id')}"]`);
  assert.ok(await copy.isVisible(), 'the copy button is shown once the script runs');
  await copy.click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.clientSecret);
  assert.equal(await copy.innerText(), 'Copied');
  await page.locator('button.copy[data-copy="client-id"]').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.clientId);
  await shoot(page, 'keys-shown');

  await page.getByRole('link', { name: 'Settings' }).click();
  made.appId = idOf(page.url(), 'apps');
  assert.equal(await page.locator('h1').innerText(), APP_NAME);
  assert.equal(await page.locator('code.uri').innerText(), `${callbackBase}/callback`);
  await shoot(page, 'app-settings');

  await page.goto(`${base}/portal`);
  assert.match(await page.locator('.list').innerText(), new RegExp(`${PROJECT_NAME}[\\s\\S]*${APP_NAME}`));
  await shoot(page, 'projects');
});

test('without JavaScript the keys page still works and the copy buttons stay hidden', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: await devonPage.context().storageState() });
  const page = await context.newPage();
  await page.goto(`${base}/portal/apps/${made.appId}/keys`);
  assert.equal(await page.locator('h1').innerText(), 'Keys and tokens');
  assert.equal(await page.locator('button.copy').first().isVisible(), false);
  await context.close();
});

/** ursula opens the authorize link, signs in if asked, and allows; the code the callback got. */
async function consent(link) {
  const page = ursulaPage;
  await page.goto(link.url);
  if ((await page.locator('#username').count()) > 0) {
    await page.locator('#username').fill(ursula.username);
    await page.locator('#password').fill(ursula.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.waitForSelector('button[value=allow]');
  assert.match(await page.locator('main').innerText(), new RegExp(APP_NAME));
  await Promise.all([page.waitForURL(`${callbackBase}/callback**`), page.getByRole('button', { name: 'Authorize app' }).click()]);
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get('state'), link.state);
  const code = landed.searchParams.get('code');
  assert.ok(code, `no code in ${landed}`);
  return code;
}

test('twitter-api-v2 completes the OAuth 2.0 flow with the portal-made keys; ursula consents in the browser', async () => {
  const lib = library(made.clientSecret);
  const link = lib.generateOAuth2AuthLink(`${callbackBase}/callback`, { scope: SCOPES });
  assert.equal(new URL(link.url).origin, base);
  const code = await consent(link);
  const login = await lib.loginWithOAuth2({ code, codeVerifier: link.codeVerifier, redirectUri: `${callbackBase}/callback` });
  assert.deepEqual([...login.scope].sort(), [...SCOPES].sort());
  made.client = login.client;
  const me = await login.client.v2.me();
  assert.equal(me.data.username, 'ursula');
  assert.equal(me.data.name, ursula.name);
  // A few more requests, so that the usage page has bars to draw.
  for (let i = 0; i < 4; i++) await login.client.v2.me();
  await login.client.v2.userByUsername('devon');
});

test('the usage page charts the App\'s requests', async () => {
  const page = devonPage;
  await page.goto(`${base}/portal/apps/${made.appId}/usage`);
  assert.equal(await page.locator('h1').innerText(), 'Usage');
  const total = Number(await page.locator('dl.stats div').first().locator('dd').innerText());
  assert.ok(total >= 6, `at least the six requests made, got ${total}`);
  assert.ok((await page.locator('section.chart').count()) >= 1, 'a chart per endpoint');
  assert.ok((await page.locator('svg.bars rect').count()) >= 1, 'bars');
  await shoot(page, 'usage');
});

test('ursula sees the App on her connected-apps page and revokes it; its token then gets 401', async () => {
  const page = ursulaPage;
  await page.goto(`${base}/settings/connected_apps`);
  assert.equal(await page.locator('h1').innerText(), 'Connected apps');
  const item = page.locator('.connected > li').filter({ hasText: APP_NAME });
  assert.equal(await item.count(), 1);
  assert.match(await item.innerText(), new RegExp(PROJECT_NAME));
  assert.deepEqual((await item.locator('.scopes code').allInnerTexts()).sort(), [...SCOPES].sort());
  await shoot(page, 'connected-apps');

  await Promise.all([page.waitForURL(/\/settings\/connected_apps/), item.getByRole('button', { name: 'Revoke access' }).click()]);
  await page.waitForSelector('.notice');
  assert.match(await page.locator('.notice').innerText(), /Access revoked/);
  assert.equal(await page.locator('.connected > li').filter({ hasText: APP_NAME }).count(), 0);
  await shoot(page, 'connected-apps-none');

  await assert.rejects(made.client.v2.me(), (e) => {
    assert.ok(e instanceof ApiResponseError, `an ApiResponseError, got ${e}`);
    assert.equal(e.code, 401);
    return true;
  });
});

async function tokenRequest(secret, code, verifier) {
  const res = await fetch(`${base}/2/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${made.clientId}:${secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${callbackBase}/callback`, code_verifier: verifier }),
  });
  return { status: res.status, body: await res.json() };
}

test('sec_g03: devon regenerates the Client Secret; the old one is refused at once, the new one works', async () => {
  const page = devonPage;
  await page.goto(`${base}/portal/apps/${made.appId}/keys`);
  assert.equal(await page.locator('.secret-box').count(), 0, 'secrets are not shown again');
  const hint = await page.locator('dl.keys code').first().innerText();
  assert.equal(hint, `…${made.clientSecret.slice(-4)}`);
  assert.ok(!(await page.content()).includes(made.clientSecret));
  await shoot(page, 'keys');

  await page.getByRole('button', { name: 'Regenerate Client Secret' }).click();
  await page.waitForSelector('.secret-box');
  const fresh = await page.locator('.secret-box input.secret[aria-label="Client Secret"]').inputValue();
  assert.notEqual(fresh, made.clientSecret);

  const link = library(fresh).generateOAuth2AuthLink(`${callbackBase}/callback`, { scope: SCOPES });
  const code = await consent(link);
  const old = await tokenRequest(made.clientSecret, code, link.codeVerifier);
  assert.equal(old.status, 401, JSON.stringify(old.body));
  // X's word for failed client authentication (spec/x-oauth2.md), not RFC 6749's invalid_client.
  assert.equal(old.body.error, 'unauthorized_client');
  const login = await library(fresh).loginWithOAuth2({ code, codeVerifier: link.codeVerifier, redirectUri: `${callbackBase}/callback` });
  assert.equal((await login.client.v2.me()).data.username, 'ursula');
});

test('the confirm page for deleting an App names it and deletes nothing until confirmed', async () => {
  const page = devonPage;
  await page.goto(`${base}/portal/apps/${made.appId}`);
  await page.getByRole('link', { name: /Delete App/ }).click();
  assert.match(await page.locator('main').innerText(), new RegExp(APP_NAME));
  await shoot(page, 'confirm-delete-app');
  await page.getByRole('link', { name: 'Cancel' }).click();
  assert.equal(await page.locator('h1').innerText(), APP_NAME);
});

test('sec_a10: the portal pages cannot be framed by another site', async () => {
  const page = await devonPage.context().newPage();
  for (const target of [`${base}/portal`, `${base}/portal/apps/${made.appId}/keys`, `${base}/settings/connected_apps`]) {
    await page.goto(`${callbackBase}/frame?src=${encodeURIComponent(target)}`);
    await page.waitForLoadState('load');
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame, 'the iframe exists');
    assert.equal(await frame.$('main').catch(() => null), null, `${target} must not render inside a frame`);
  }
  await page.close();
});

test('sec_a11: a form on another site cannot post to the portal, even with devon signed in', async () => {
  const page = await devonPage.context().newPage();
  await page.goto(`${callbackBase}/forge`);
  const [response] = await Promise.all([
    page.waitForResponse(`${base}/portal/projects`),
    page.getByRole('button', { name: 'Win a prize' }).click(),
  ]);
  assert.equal(response.status(), 403);
  await page.goto(`${base}/portal`);
  assert.doesNotMatch(await page.locator('main').innerText(), /Forged Project/);
  await page.close();
});
