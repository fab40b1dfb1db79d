// The sandbox recipe of the README ("Testing your X app with roost"), as a test: twitter-api-v2
// against a roost with a manual clock, driven over the admin API — a snapshot and a reset,
// tokens minted without a browser, a fault rule, and the clock moved past the access token's
// lifetime. Its own roost: the clock is server-wide and a reset empties the store.

import * as h from './harness.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ApiResponseError, TwitterApi } from 'twitter-api-v2';

const LIB = 'sandbox (twitter-api-v2)';
let roost;

before(async () => {
  // The sandbox controls are off unless turned on (checklist L2).
  roost = await h.startRoost({ label: 'sandbox', serveArgs: ['--sandbox', '--clock', 'manual'] });
});
after(async () => {
  await roost?.stop();
});

/** twitter-api-v2 pointed at roost: the base URL, and a plain-http agent for a local roost. */
const client = (token) =>
  new TwitterApi(token, {
    plugins: [{ onBeforeRequestConfig({ params }) { params.url = params.url.replace(/^https:\/\/api\.x\.com(?=\/)/, roost.base); } }],
    httpAgent: new http.Agent(),
  });

async function refused(promise, code) {
  await assert.rejects(promise, (err) => err instanceof ApiResponseError && err.code === code);
}

test('reset, mint, a fault and the clock through the admin API', async () => {
  const token = h.secret(roost.json('admin-token', 'create', '--label', 'node').token);
  const admin = async (method, path, body) => {
    const res = await fetch(`${roost.base}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const app = roost.confidential.client_id;
  const mint = (scope) => admin('POST', '/tokens', { app, user: 'alice', scope });

  await h.step(LIB, 'snapshot, then reset to it (before each test)', async () => {
    await admin('POST', '/snapshots', { name: 'baseline' });
    await admin('POST', '/reset', { to: 'baseline' });
  });

  let api;
  await h.step(LIB, 'tokens without a browser, used by the library', async () => {
    const minted = await mint('tweet.read users.read offline.access');
    assert.equal(minted.token_type, 'bearer');
    assert.ok(minted.refresh_token, 'offline.access brings a refresh token');
    api = client(h.secret(minted.access_token));
    assert.equal((await api.v2.me()).data.username, 'alice');
  });

  await h.step(LIB, "a fault rule: X's 429 once, then normal answers", async () => {
    await admin('POST', '/faults', { path: '/2/users/me', fault: 'rate_limit', count: 1 });
    await assert.rejects(api.v2.me(), (err) => err instanceof ApiResponseError && err.code === 429 && err.rateLimit?.remaining === 0);
    assert.equal((await api.v2.me()).data.username, 'alice');
    await admin('DELETE', '/faults');
  });

  await h.step(LIB, "the clock past the access token's 7200 s", async () => {
    await admin('POST', '/clock', { advance_seconds: 7201 });
    await refused(api.v2.me(), 401);
  });

  await h.step(LIB, 'reset again: a token minted after the snapshot is refused', async () => {
    const later = client(h.secret((await mint('tweet.read users.read')).access_token));
    assert.equal((await later.v2.me()).data.username, 'alice');
    await admin('POST', '/reset', { to: 'baseline' });
    await refused(later.v2.me(), 401);
  });
});
