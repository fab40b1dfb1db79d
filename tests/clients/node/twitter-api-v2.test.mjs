// twitter-api-v2 against roost, changed only in its base URL (its plugin hooks, as
// client-quirks.md says): the whole journey as a confidential and as a public client, then
// app-only. The library has a call for every step, so nothing here is plain HTTP except the
// login and consent forms, which a browser (here the harness) fills in.

import * as h from './harness.mjs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ApiResponseError, TwitterApi } from 'twitter-api-v2';

const LIB = 'twitter-api-v2';
let roost, settings;

/** How twitter-api-v2 is pointed at roost: its requests and its authorize link. */
function roostPlugin(base) {
  return {
    onBeforeRequestConfig({ params }) {
      params.url = params.url.replace(/^https:\/\/api\.x\.com(?=\/)/, base);
    },
    onOAuth2RequestToken({ result }) {
      result.url = result.url.replace('https://x.com/i/', `${base}/i/`);
    },
  };
}

/** Records the library's exchanges for failure messages (it uses node:https, not fetch). */
function recorderPlugin() {
  const open = new WeakMap();
  return {
    onBeforeRequest({ computedParams: p }) {
      open.set(p, h.record({
        method: p.method,
        url: p.url.href,
        headers: p.headers,
        body: p.body === undefined ? undefined : String(p.body),
      }));
    },
    onAfterRequest({ computedParams, response }) {
      const entry = open.get(computedParams);
      if (entry) entry.response = { status: '2xx', headers: response.headers, body: JSON.stringify(response.data) };
    },
    onResponseError({ computedParams, error }) {
      const entry = open.get(computedParams);
      if (entry) entry.response = { status: error.code, headers: error.headers, body: JSON.stringify(error.data) };
    },
  };
}

before(async () => {
  roost = await h.startRoost({ label: 'twitter-api-v2' });
  // The roost plugin comes first: generateOAuth2AuthLink does not wait for its hooks, and only
  // the first plugin's runs before it returns.
  settings = { plugins: [roostPlugin(roost.base), recorderPlugin()], httpAgent: new http.Agent() };
});

after(async () => {
  await roost?.stop();
});

const is401 = (e) => e instanceof ApiResponseError && e.code === 401;

async function authorize(lib, requestClient, user) {
  const link = await h.step(lib, 'build the authorize URL (generateOAuth2AuthLink)', async () => {
    const link = requestClient.generateOAuth2AuthLink(roost.callback, { scope: h.SCOPES });
    h.secret(link.codeVerifier);
    const url = new URL(link.url);
    assert.equal(url.origin, roost.base);
    assert.equal(url.searchParams.get('code_challenge_method'), 's256');
    assert.equal(url.searchParams.get('scope'), h.SCOPES.join(' '));
    return link;
  });
  const { code } = await h.consent({ library: lib, authorizeUrl: link.url, user, state: link.state, callback: roost.callback });
  return h.step(lib, 'exchange the code (loginWithOAuth2)', async () => {
    const login = await requestClient.loginWithOAuth2({ code, codeVerifier: link.codeVerifier, redirectUri: roost.callback });
    h.secret(login.accessToken);
    h.secret(login.refreshToken);
    assert.deepEqual([...login.scope].sort(), [...h.SCOPES].sort());
    assert.equal(typeof login.expiresIn, 'number');
    assert.ok(login.refreshToken, 'offline.access gives a refresh token');
    return login;
  });
}

async function journey(kind, username) {
  const app = roost[kind];
  const user = roost.users[username];
  const lib = `${LIB} (${kind} client)`;
  const step = (name, fn) => h.step(lib, name, fn);
  const requestClient = new TwitterApi(
    { clientId: app.client_id, ...(app.client_secret ? { clientSecret: app.client_secret } : {}) },
    settings,
  );

  const first = await authorize(lib, requestClient, user);

  const refreshed = await step('refresh (refreshOAuth2Token)', async () => {
    const next = await requestClient.refreshOAuth2Token(first.refreshToken);
    h.secret(next.accessToken);
    h.secret(next.refreshToken);
    assert.notEqual(next.accessToken, first.accessToken);
    assert.notEqual(next.refreshToken, first.refreshToken, 'refresh tokens rotate');
    assert.deepEqual([...next.scope].sort(), [...h.SCOPES].sort());
    const me = await next.client.v2.me();
    assert.equal(me.data.id, user.id);
    return next;
  });

  await step('the used refresh token is refused', async () => {
    await assert.rejects(requestClient.refreshOAuth2Token(first.refreshToken), (e) => {
      assert.ok(e instanceof ApiResponseError, `an ApiResponseError, got ${e}`);
      assert.equal(e.code, 400);
      assert.equal(e.data.error, 'invalid_request');
      return true;
    });
  });

  // Reusing a refresh token revokes its family (RFC 9700 §4.14.2): the tokens of the refresh
  // are dead too, and the journey goes on with a fresh authorization.
  await step('the family of the reused refresh token is gone', async () => {
    await assert.rejects(refreshed.client.v2.me(), is401);
  });
  const login = await authorize(lib, requestClient, user);
  const client = login.client;

  const me = await step('users/me (v2.me)', async () => {
    const res = await client.v2.me({ 'user.fields': ['created_at', 'public_metrics'] });
    assert.equal(res.data.id, user.id);
    assert.equal(res.data.username, user.username);
    assert.equal(typeof res.data.public_metrics.following_count, 'number');
    return res.data;
  });

  await step('tweet lookup (v2.singleTweet)', async () => {
    const res = await client.v2.singleTweet(h.DATA.tweet.id, { 'tweet.fields': ['author_id', 'created_at'], expansions: ['author_id'] });
    assert.equal(res.data.text, h.DATA.tweet.text);
    assert.equal(res.data.author_id, h.DATA.tweet.author_id);
    assert.deepEqual(res.data.edit_history_tweet_ids, [h.DATA.tweet.id]);
    assert.equal(res.includes.users[0].username, 'XDevelopers');
  });

  await step('users by usernames, one unknown (v2.usersByUsernames)', async () => {
    const res = await client.v2.usersByUsernames(['XDevelopers', 'nobody_here_42']);
    assert.deepEqual(res.data.map((u) => u.username), ['XDevelopers']);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0].value, 'nobody_here_42');
    assert.equal(res.errors[0].title, 'Not Found Error');
    assert.equal(res.errors[0].resource_type, 'user');
  });

  const newcomer = h.DATA.newcomer;
  await step('follow (v2.follow)', async () => {
    const res = await client.v2.follow(me.id, newcomer.id);
    assert.equal(res.data.following, true);
  });

  await step('following list, three pages of two (v2.following as a paginator)', async () => {
    const paginator = await client.v2.following(me.id, { asPaginator: true, max_results: 2 });
    assert.equal(paginator.users.length, 2);
    assert.ok(!paginator.done);
    let pages = 1;
    while (!paginator.done) {
      await paginator.fetchNext();
      pages += 1;
    }
    assert.equal(pages, 3);
    assert.deepEqual(paginator.users.map((u) => u.id).sort(), [...h.DATA.targets.map((t) => t.id), newcomer.id].sort());
    assert.equal(paginator.meta.next_token, undefined);
  });

  await step('unfollow (v2.unfollow)', async () => {
    const res = await client.v2.unfollow(me.id, newcomer.id);
    assert.equal(res.data.following, false);
    const after = await client.v2.following(me.id, { max_results: 1000 });
    assert.ok(!after.data.some((u) => u.id === newcomer.id));
  });

  await step('post a tweet, read it, delete it (v2.tweet, v2.singleTweet, v2.deleteTweet)', async () => {
    const text = `Hello from ${lib} at ${Date.now()}`;
    const posted = await client.v2.tweet(text);
    assert.equal(posted.data.text, text);
    const read = await client.v2.singleTweet(posted.data.id, { 'tweet.fields': ['author_id'] });
    assert.equal(read.data.author_id, me.id);
    const deleted = await client.v2.deleteTweet(posted.data.id);
    assert.equal(deleted.data.deleted, true);
    const gone = await client.v2.singleTweet(posted.data.id);
    assert.equal(gone.data, undefined);
    assert.equal(gone.errors[0].title, 'Not Found Error');
  });

  await step('space lookup (v2.space)', async () => {
    const res = await client.v2.space(h.DATA.space.id, { 'space.fields': ['title', 'creator_id', 'participant_count'] });
    assert.equal(res.data.state, 'live');
    assert.equal(res.data.title, h.DATA.space.title);
    assert.equal(res.data.creator_id, h.DATA.space.creator_id);
  });

  await step('revoke (revokeOAuth2Token)', async () => {
    assert.deepEqual(await requestClient.revokeOAuth2Token(login.accessToken, 'access_token'), { revoked: true });
  });

  await step('the revoked token is refused (401 through the library)', async () => {
    await assert.rejects(client.v2.me(), (e) => {
      assert.ok(is401(e), `a 401 ApiResponseError, got ${e}`);
      assert.equal(e.data.title, 'Unauthorized');
      return true;
    });
  });

  await step('revoke the refresh token (revokeOAuth2Token with refresh_token)', async () => {
    assert.deepEqual(await requestClient.revokeOAuth2Token(login.refreshToken, 'refresh_token'), { revoked: true });
    await assert.rejects(requestClient.refreshOAuth2Token(login.refreshToken), (e) => e instanceof ApiResponseError && e.code === 400);
  });
}

test('twitter-api-v2, confidential client: authorize, exchange, refresh, API calls, revoke', async () => {
  await journey('confidential', 'alice');
});

test('twitter-api-v2, public client: authorize, exchange, refresh, API calls, revoke', async () => {
  await journey('public', 'bob');
});

test('twitter-api-v2, app-only: appLogin with the API key and secret reads a tweet', async () => {
  for (const kind of ['confidential', 'public']) {
    const lib = `${LIB} (app-only, ${kind} App)`;
    const app = roost[kind];
    const appClient = await h.step(lib, 'app-only token (appLogin)', () =>
      new TwitterApi({ appKey: app.api_key, appSecret: app.api_secret }, settings).appLogin(),
    );
    h.secret(appClient.getActiveTokens().bearerToken);
    await h.step(lib, 'tweet lookup with the Bearer Token (v2.singleTweet)', async () => {
      const res = await appClient.v2.singleTweet(h.DATA.tweet.id);
      assert.equal(res.data.text, h.DATA.tweet.text);
    });
    await h.step(lib, 'users/me is refused to an app-only token (403 Unsupported Authentication)', async () => {
      await assert.rejects(appClient.v2.me(), (e) => e instanceof ApiResponseError && e.code === 403 && e.data.title === 'Unsupported Authentication');
    });
  }
});
