// The harness of the Node client suite: a real roost on a random loopback port with a fresh
// SQLite file, Apps and users made with roost's own CLI, login and consent through roost's real
// HTML forms, and a record of every HTTP exchange so that a failing step prints the library, the
// step, the request and roost's response (secrets masked).
//
// Import this module before a client library: it wraps globalThis.fetch at load time, and X's
// TypeScript SDK binds the fetch it finds when it is loaded.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const BIN = path.resolve(ROOT, process.env.ROOST_BIN ?? 'target/debug/roost');

/**
 * The scopes of the journey: the issue's list and `tweet.write`, without which X (and roost)
 * refuse to post or delete a tweet.
 */
export const SCOPES = ['tweet.read', 'tweet.write', 'users.read', 'follows.read', 'follows.write', 'space.read', 'offline.access'];

// ---------------------------------------------------------------------------------------------
// What was sent and answered, for failure messages.

const exchanges = [];
const secrets = new Set();
const SECRET_KEYS = new Set([
  'access_token', 'refresh_token', 'token', 'code', 'code_verifier', 'client_secret', 'password',
  'csrf_token', 'request', 'api_secret',
]);

/** Registers a value that must never appear in output. */
export function secret(value) {
  if (typeof value === 'string' && value.length >= 6) secrets.add(value);
  return value;
}

function mask(text) {
  if (text == null) return text;
  let s = String(text);
  for (const v of secrets) s = s.split(v).join(`***${v.length}***`);
  // Values the harness did not see being made (a new token in a response, a code in a URL).
  s = s.replace(/("(?:access_token|refresh_token|token|code|code_verifier|client_secret|password|csrf_token)"\s*:\s*")(?!\*\*\*)([^"]*)"/g,
    (_, k, v) => `${k}***${v.length}***"`);
  s = s.replace(/([?&](?:access_token|refresh_token|token|code|code_verifier|client_secret|password|csrf_token|request)=)(?!\*\*\*)([^&\s"]*)/g,
    (_, k, v) => `${k}***${v.length}***`);
  return s;
}

function maskHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'authorization') out[k] = String(v).replace(/^(\w+)\s+(.*)$/, (_, scheme, cred) => `${scheme} ***${cred.length}***`);
    else if (name === 'cookie' || name === 'set-cookie') out[k] = String(v).replace(/=([^;,\s]+)/g, '=***');
    else out[k] = v;
  }
  return out;
}

function maskForm(body) {
  if (typeof body !== 'string') return body;
  if (body.trimStart().startsWith('{')) return mask(body);
  const p = new URLSearchParams(body);
  for (const k of [...p.keys()]) if (SECRET_KEYS.has(k)) p.set(k, `***${p.get(k).length}***`);
  return mask(p.toString());
}

/** Records one exchange; `response` may be filled in later. */
export function record(request) {
  const entry = { request, response: undefined };
  exchanges.push(entry);
  if (exchanges.length > 200) exchanges.shift();
  return entry;
}

function headersObject(h) {
  if (!h) return {};
  if (typeof h.entries === 'function') return Object.fromEntries(h.entries());
  return { ...h };
}

const realFetch = globalThis.fetch;
/** Every fetch in this process goes through here and is recorded. */
globalThis.fetch = async function recordingFetch(input, init = {}) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const entry = record({
    method: init.method ?? 'GET',
    url,
    headers: headersObject(init.headers),
    body: typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : init.body ? '[body]' : undefined,
  });
  const res = await realFetch(input, init);
  const text = await res.clone().text().catch(() => '[unreadable]');
  entry.response = { status: res.status, headers: headersObject(res.headers), body: text.slice(0, 4000) };
  return res;
};

function describe(entry) {
  const { request: q, response: r } = entry;
  const lines = [`    > ${q.method} ${mask(q.url)}`];
  const qh = maskHeaders(q.headers);
  if (Object.keys(qh).length) lines.push(`    > headers ${JSON.stringify(qh)}`);
  if (q.body !== undefined) lines.push(`    > body ${maskForm(q.body)}`);
  if (r) {
    lines.push(`    < ${r.status}`);
    lines.push(`    < headers ${JSON.stringify(maskHeaders(r.headers))}`);
    lines.push(`    < body ${mask(r.body)}`);
  } else {
    lines.push('    < (no response)');
  }
  return lines.join('\n');
}

/**
 * Runs one step of a journey; if it throws, the error names the library and the step and carries
 * the exchanges the step made (or the last one before it, when it made none).
 */
export async function step(library, name, fn) {
  const mark = exchanges.length;
  try {
    return await fn();
  } catch (err) {
    const made = exchanges.slice(mark);
    const shown = made.length ? made.slice(-4) : exchanges.slice(-1);
    const detail = err?.data !== undefined ? `\n  library error data: ${mask(JSON.stringify(err.data))}` : '';
    const message = [
      `[${library}] step "${name}" failed: ${mask(err?.message ?? String(err))}${detail}`,
      made.length ? `  exchanges of this step (${made.length}, last ${shown.length}):` : '  the step made no request; the last exchange before it:',
      ...shown.map(describe),
    ].join('\n');
    const wrapped = new Error(message, { cause: err });
    wrapped.stack = `${message}\n${err?.stack ?? ''}`;
    throw wrapped;
  }
}

// ---------------------------------------------------------------------------------------------
// roost: start, seed with the CLI, stop.

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

async function waitForHealth(base, child, log, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`roost serve exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await realFetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`roost did not answer ${base}/healthz within ${ms} ms:\n${log()}`);
}

/** Ids of the imported data, fixed so the tests can name them. */
export const DATA = {
  targets: [
    { id: '2244994945', username: 'XDevelopers', name: 'Developers' },
    { id: '783214', username: 'X', name: 'X' },
    { id: '1500000000000000001', username: 'nina_codes', name: 'Nina Codes' },
    { id: '1500000000000000002', username: 'omar_builds', name: 'Omar Builds' },
    { id: '1500000000000000003', username: 'petra_ships', name: 'Petra Ships' },
  ],
  /** Followed by nobody at the start: the journeys follow and unfollow it. */
  newcomer: { id: '1500000000000000009', username: 'quinn_new', name: 'Quinn New' },
  tweet: { id: '1261326399320715264', text: 'The X API v2 is here: users, tweets, follows and spaces.', author_id: '2244994945' },
  space: { id: '1DXxyRYNejbKM', title: 'Client libraries office hours', creator_id: '2244994945' },
};

function importFile(signers) {
  const users = [...DATA.targets, DATA.newcomer].map((u) => ({
    ...u,
    created_at: '2015-03-01T12:00:00.000Z',
    description: `${u.name}, imported for the client suite.`,
    verified: false,
    protected: false,
  }));
  const tweets = [
    { ...DATA.tweet, created_at: '2020-05-15T16:03:42.000Z', conversation_id: DATA.tweet.id, lang: 'en' },
    { id: '1261326399320715265', text: 'Pagination: follow next_token until it is gone.', author_id: '1500000000000000001',
      created_at: '2021-01-02T10:00:00.000Z', conversation_id: '1261326399320715265', lang: 'en' },
  ];
  // Every signer follows the five targets, so the following list takes three pages of two.
  const follows = signers.flatMap((s) => DATA.targets.map((t) => ({ source_user_id: s.id, target_user_id: t.id })));
  const now = new Date();
  const spaces = [{
    ...DATA.space,
    state: 'live',
    host_ids: [DATA.space.creator_id],
    created_at: new Date(now - 3600e3).toISOString(),
    started_at: new Date(now - 3000e3).toISOString(),
    participant_count: 12,
  }];
  return { users, tweets, follows, spaces };
}

/**
 * Starts roost with a fresh database and seeds it: a confidential and a public App (callback
 * `callback`), two users who can sign in (one per kind of client, so journeys never share a
 * following list) and the imported data. Returns what the tests need and `stop()`.
 */
export async function startRoost({ label, callback = 'http://127.0.0.1:8976/callback', serveArgs = [] }) {
  const dir = mkdtempSync(path.join(tmpdir(), `roost-clients-${label}-`));
  // SQLite, or PostgreSQL with ROOST_TEST_STORE=postgres.
  const dbUrl = execFileSync(path.join(ROOT, 'scripts/test-database-url'), [dir], { encoding: 'utf8' }).trim();
  const cli = (...args) => {
    try {
      return execFileSync(BIN, [...args, '--database-url', dbUrl], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const why = err.code === 'ENOENT' ? `${BIN} not found (build it with cargo build, or set ROOST_BIN)` : `exit ${err.status}: ${err.stderr}`;
      throw new Error(`roost ${args.slice(0, 2).join(' ')} failed: ${why}`);
    }
  };
  const json = (...args) => JSON.parse(cli(...args, '--json'));
  try {
    return await seedAndServe({ label, callback, dir, dbUrl, cli, json, serveArgs });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function seedAndServe({ label, callback, dir, dbUrl, cli, json, serveArgs }) {
  cli('migrate');
  const project = `${label} client suite`;
  const confidential = json('apps', 'create', '--name', `${label} Web App`, '--project', project, '--type', 'confidential', '--callback', callback);
  const pub = json('apps', 'create', '--name', `${label} Native App`, '--project', project, '--type', 'public', '--callback', callback);
  for (const a of [confidential, pub]) for (const k of ['client_secret', 'api_secret']) secret(a[k]);
  const users = {};
  for (const [username, name] of [['alice', 'Alice Example'], ['bob', 'Bob Example']]) {
    const password = secret(`${username}-${crypto.randomBytes(9).toString('base64url')}`);
    users[username] = { ...json('users', 'create', '--username', username, '--name', name, '--password', password), password };
  }
  const file = path.join(dir, 'import.json');
  writeFileSync(file, JSON.stringify(importFile(Object.values(users))));
  const imported = json('import', file);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', dbUrl, ...serveArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => {
    output += d;
    if (output.length > 20000) output = output.slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const log = () => mask(output.split('\n').slice(-40).join('\n'));
  // Should the test process end without its after hook (a crash, a signal), roost ends with it.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const stop = async () => {
    process.off('exit', orphan);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitForHealth(base, child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    base, callback, confidential, public: pub, users, imported, cli, json, log,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Login and consent through roost's HTML forms, as a browser without JavaScript would.

class CookieJar {
  #cookies = new Map();
  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
      if (gone) this.#cookies.delete(name);
      else this.#cookies.set(name, secret(value));
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const decode = (s) => s.replace(/&quot;/g, '"').replace(/&#39;|&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = decode(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** The forms of a page: action, method, every input (hidden ones included) and the buttons. */
export function forms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, head, body]) => {
    const a = attrs(head);
    const inputs = [...body.matchAll(/<input\b([^>]*)>/gi)].map(([, t]) => attrs(t));
    const buttons = [...body.matchAll(/<button\b([^>]*)>/gi)].map(([, t]) => attrs(t));
    return { action: a.action ?? '', method: (a.method ?? 'get').toLowerCase(), inputs, buttons };
  });
}

function formBody(form, fields) {
  const body = new URLSearchParams();
  for (const i of form.inputs) {
    if (!i.name || (i.type ?? 'text') === 'submit') continue;
    if (i.type === 'hidden') body.append(i.name, secret(i.value ?? ''));
  }
  for (const [k, v] of Object.entries(fields)) body.set(k, v);
  return body;
}

/**
 * Opens `authorizeUrl` in a cookie-keeping HTTP client, signs in as `user` through the login
 * form, answers the consent form with `decision`, and returns the query of the redirect to the
 * callback (the redirect is not followed), after checking that it carries `state`.
 */
export async function consent({ library, authorizeUrl, user, state, decision = 'allow', callback }) {
  const jar = new CookieJar();
  const go = async (url, init = {}) => {
    const cookie = jar.header();
    const headers = { ...init.headers, ...(cookie ? { cookie } : {}) };
    const res = await fetch(url, { ...init, redirect: 'manual', headers });
    jar.take(res);
    return res;
  };
  const submit = async (pageUrl, form, fields) => {
    assertEq(form.method, 'post', 'forms post');
    return go(new URL(form.action || pageUrl, pageUrl).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody(form, fields).toString(),
    });
  };

  const loginPage = await step(library, 'open the authorize URL (login page)', async () => {
    const res = await go(authorizeUrl);
    const html = await res.text();
    assertEq(res.status, 200, 'login page status');
    const form = forms(html).find((f) => f.inputs.some((i) => i.name === 'username'));
    if (!form) throw new Error('no login form on the page');
    return form;
  });

  const consentUrl = await step(library, 'post the login form', async () => {
    const res = await submit(authorizeUrl, loginPage, { username: user.username, password: user.password });
    assertEq(res.status, 303, 'login answer status');
    return new URL(res.headers.get('location'), authorizeUrl).href;
  });

  const consentForm = await step(library, 'open the consent page', async () => {
    const res = await go(consentUrl);
    const html = await res.text();
    assertEq(res.status, 200, 'consent page status');
    const form = forms(html).find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === decision));
    if (!form) throw new Error(`no consent form with a decision=${decision} button`);
    return form;
  });

  return step(library, `post the consent form (decision=${decision})`, async () => {
    const res = await submit(consentUrl, consentForm, { decision });
    assertEq(res.status, 303, 'consent answer status');
    const location = new URL(res.headers.get('location'));
    const expected = new URL(callback);
    assertEq(location.origin + location.pathname, expected.origin + expected.pathname, 'redirect goes to the callback');
    const query = Object.fromEntries(location.searchParams);
    assertEq(query.state, state, 'state comes back unchanged');
    if (query.code) secret(query.code);
    return query;
  });
}

function assertEq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** The App's app-only Bearer Token by a plain POST, for a library without that call. */
export async function appOnlyToken(base, app) {
  const basic = Buffer.from(`${encodeURIComponent(app.api_key)}:${encodeURIComponent(app.api_secret)}`).toString('base64');
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: 'grant_type=client_credentials',
  });
  const body = await res.json();
  assertEq(res.status, 200, 'app-only token status');
  assertEq(body.token_type, 'bearer', 'token_type');
  return secret(body.access_token);
}

/** RFC 7009 revocation by a plain POST, for a library without a revoke call. */
export async function revoke(base, app, token, hint = 'access_token') {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams({ token, token_type_hint: hint });
  if (app.client_secret) headers.authorization = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
  else body.set('client_id', app.client_id);
  const res = await fetch(`${base}/2/oauth2/revoke`, { method: 'POST', headers, body: body.toString() });
  assertEq(res.status, 200, 'revoke status');
  return res.json();
}

/** A random `state` of the kind libraries make. */
export const newState = () => crypto.randomBytes(16).toString('base64url');
