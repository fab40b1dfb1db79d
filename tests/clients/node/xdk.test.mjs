// X's official TypeScript SDK (@xdevplatform/xdk) against roost, changed only in its base URL:
// the whole journey as a confidential and as a public client, then app-only.
//
// What the SDK cannot do, done with plain HTTP (and said where it happens):
// - its OAuth2 class has no revoke call: revocation is a plain POST to /2/oauth2/revoke;
// - it cannot obtain an app-only Bearer Token (Client takes one ready-made): the token is a plain
//   POST to /oauth2/token, and the SDK's Client reads a tweet with it.

import * as h from './harness.mjs'; // first: it wraps fetch before the SDK binds it
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, Client, OAuth2, UserPaginator, generateCodeVerifier } from '@xdevplatform/xdk';

const LIB = 'xdk';
let roost;

before(async () => {
  roost = await h.startRoost({ label: 'xdk' });
  // The SDK's OAuth2 class calls X's token endpoint by its full URL through the global fetch;
  // rewriting that origin is how it is pointed at roost (client-quirks.md). The API Client takes
  // a baseUrl.
  const fetch = globalThis.fetch;
  globalThis.fetch = (input, init) =>
    fetch(typeof input === 'string' ? input.replace(/^https:\/\/api\.x\.com(?=\/)/, roost.base) : input, init);
});

after(async () => {
  await roost?.stop();
});

async function journey(kind, username) {
  const app = roost[kind];
  const user = roost.users[username];
  const lib = `${LIB} (${kind} client)`;
  const step = (name, fn) => h.step(lib, name, fn);

  const oauth2 = new OAuth2({
    clientId: app.client_id,
    ...(app.client_secret ? { clientSecret: app.client_secret } : {}),
    redirectUri: roost.callback,
    scope: h.SCOPES,
  });
  const verifier = h.secret(generateCodeVerifier());
  const state = h.newState();

  const authorizeUrl = await step('build the authorize URL', async () => {
    await oauth2.setPkceParameters(verifier);
    const url = (await oauth2.getAuthorizationUrl(state)).replace('https://x.com/i/', `${roost.base}/i/`);
    const q = new URL(url).searchParams;
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('scope'), h.SCOPES.join(' '));
    assert.equal(q.get('state'), state);
    return url;
  });

  const { code } = await h.consent({ library: lib, authorizeUrl, user, state, callback: roost.callback });

  const first = await step('exchange the code (OAuth2.exchangeCode)', async () => {
    const token = await oauth2.exchangeCode(code, verifier);
    h.secret(token.access_token);
    h.secret(token.refresh_token);
    assert.equal(token.token_type, 'bearer');
    assert.equal(typeof token.expires_in, 'number');
    assert.deepEqual(token.scope.split(' ').sort(), [...h.SCOPES].sort());
    assert.ok(token.refresh_token, 'offline.access gives a refresh token');
    return token;
  });

  const token = await step('refresh (OAuth2.refreshToken)', async () => {
    const next = await oauth2.refreshToken();
    h.secret(next.access_token);
    h.secret(next.refresh_token);
    assert.notEqual(next.access_token, first.access_token);
    assert.notEqual(next.refresh_token, first.refresh_token, 'refresh tokens rotate');
    assert.equal(oauth2.isTokenExpired(), false);
    return next;
  });

  await step('the used refresh token is refused', async () => {
    await assert.rejects(oauth2.refreshToken(first.refresh_token), /Failed to refresh token: 400/);
  });

  // Reusing a refresh token revokes its family (RFC 9700 §4.14.2), so the journey goes on
  // with a fresh authorization.
  const fresh = await freshToken(lib, oauth2, user);
  const client = new Client({ baseUrl: roost.base, accessToken: fresh.access_token });
  await step('the family of the reused refresh token is gone', async () => {
    const stale = new Client({ baseUrl: roost.base, accessToken: token.access_token });
    await assert.rejects(stale.users.getMe(), (e) => e instanceof ApiError && e.status === 401);
  });

  const me = await step('users/me (users.getMe)', async () => {
    const res = await client.users.getMe({ userFields: ['created_at', 'public_metrics'] });
    assert.equal(res.data.id, user.id);
    assert.equal(res.data.username, user.username);
    assert.equal(typeof res.data.publicMetrics.followingCount, 'number');
    return res.data;
  });

  await step('tweet lookup (posts.getById)', async () => {
    const res = await client.posts.getById(h.DATA.tweet.id, { postFields: ['author_id', 'created_at'], expansions: ['author_id'] });
    assert.equal(res.data.text, h.DATA.tweet.text);
    assert.equal(res.data.authorId, h.DATA.tweet.author_id);
    assert.deepEqual(res.data.editHistoryTweetIds, [h.DATA.tweet.id]);
    assert.equal(res.includes.users[0].username, 'XDevelopers');
  });

  await step('users by usernames, one unknown (users.getByUsernames)', async () => {
    const res = await client.users.getByUsernames(['XDevelopers', 'nobody_here_42']);
    assert.deepEqual(res.data.map((u) => u.username), ['XDevelopers']);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0].value, 'nobody_here_42');
    assert.equal(res.errors[0].title, 'Not Found Error');
    assert.equal(res.errors[0].resourceType, 'user');
  });

  const newcomer = h.DATA.newcomer;
  await step('follow (users.followUser)', async () => {
    const res = await client.users.followUser(me.id, { targetUserId: newcomer.id });
    assert.equal(res.data.following, true);
  });

  await step('following list, three pages of two (UserPaginator over users.getFollowing)', async () => {
    let pages = 0;
    const paginator = new UserPaginator((paginationToken) => {
      pages += 1;
      return client.users.getFollowing(me.id, { maxResults: 2, paginationToken });
    });
    const seen = [];
    for await (const u of paginator) seen.push(u.id);
    assert.equal(pages, 3);
    assert.ok(paginator.done);
    assert.deepEqual(seen.sort(), [...h.DATA.targets.map((t) => t.id), newcomer.id].sort());
  });

  await step('unfollow (users.unfollowUser)', async () => {
    const res = await client.users.unfollowUser(me.id, newcomer.id);
    assert.equal(res.data.following, false);
    const after = await client.users.getFollowing(me.id, { maxResults: 1000 });
    assert.ok(!after.data.some((u) => u.id === newcomer.id));
  });

  await step('post a tweet, read it, delete it (posts.create, posts.getById, posts.delete)', async () => {
    const text = `Hello from ${lib} at ${Date.now()}`;
    const posted = await client.posts.create({ text });
    assert.equal(posted.data.text, text);
    const read = await client.posts.getById(posted.data.id, { postFields: ['author_id'] });
    assert.equal(read.data.authorId, me.id);
    const deleted = await client.posts.delete(posted.data.id);
    assert.equal(deleted.data.deleted, true);
    const gone = await client.posts.getById(posted.data.id);
    assert.equal(gone.data, undefined);
    assert.equal(gone.errors[0].title, 'Not Found Error');
  });

  await step('space lookup (spaces.getById)', async () => {
    const res = await client.spaces.getById(h.DATA.space.id, { spaceFields: ['title', 'creator_id', 'participant_count'] });
    assert.equal(res.data.state, 'live');
    assert.equal(res.data.title, h.DATA.space.title);
    assert.equal(res.data.creatorId, h.DATA.space.creator_id);
  });

  // The SDK has no revoke call: a plain RFC 7009 POST.
  await step('revoke (plain POST /2/oauth2/revoke: the SDK has no call for it)', async () => {
    assert.deepEqual(await h.revoke(roost.base, app, fresh.access_token), { revoked: true });
  });

  await step('the revoked token is refused (401 through the SDK)', async () => {
    await assert.rejects(client.users.getMe(), (e) => {
      assert.ok(e instanceof ApiError, `an ApiError, got ${e}`);
      assert.equal(e.status, 401);
      assert.equal(e.data.title, 'Unauthorized');
      return true;
    });
  });

  await step('revoke the refresh token (plain POST), then OAuth2.refreshToken is refused', async () => {
    assert.deepEqual(await h.revoke(roost.base, app, fresh.refresh_token, 'refresh_token'), { revoked: true });
    await assert.rejects(oauth2.refreshToken(fresh.refresh_token), /Failed to refresh token: 400/);
  });
}

/** Another authorization of the same user, and its tokens. */
async function freshToken(lib, oauth2, user) {
  const verifier = h.secret(generateCodeVerifier());
  const state = h.newState();
  await oauth2.setPkceParameters(verifier);
  const authorizeUrl = (await oauth2.getAuthorizationUrl(state)).replace('https://x.com/i/', `${roost.base}/i/`);
  const { code } = await h.consent({ library: lib, authorizeUrl, user, state, callback: roost.callback });
  return h.step(lib, 'exchange a second code (OAuth2.exchangeCode)', async () => {
    const token = await oauth2.exchangeCode(code, verifier);
    h.secret(token.access_token);
    h.secret(token.refresh_token);
    return token;
  });
}

test('xdk, confidential client: authorize, exchange, refresh, API calls, revoke', async () => {
  await journey('confidential', 'alice');
});

test('xdk, public client: authorize, exchange, refresh, API calls, revoke', async () => {
  await journey('public', 'bob');
});

test('xdk, app-only: a Bearer Token from the API key and secret reads a tweet', async () => {
  for (const kind of ['confidential', 'public']) {
    const lib = `${LIB} (app-only, ${kind} App)`;
    // The SDK cannot obtain the token: a plain POST /oauth2/token with the API key and secret.
    const bearerToken = await h.step(lib, 'app-only token (plain POST /oauth2/token: the SDK has no call for it)', () =>
      h.appOnlyToken(roost.base, roost[kind]),
    );
    const client = new Client({ baseUrl: roost.base, bearerToken });
    await h.step(lib, 'tweet lookup with the Bearer Token (posts.getById)', async () => {
      const res = await client.posts.getById(h.DATA.tweet.id);
      assert.equal(res.data.text, h.DATA.tweet.text);
    });
  }
});
