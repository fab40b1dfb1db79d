"""tweepy against roost. tweepy has X's URLs built in and no base-URL option, so a requests
adapter that rewrites `https://api.twitter.com` to roost is mounted on its sessions, and the
authorize URL's `https://twitter.com` is replaced: the base URL is all that changes."""

import urllib.parse

import pytest
import tweepy
from requests.adapters import HTTPAdapter

from harness import CALLBACK, SCOPES, app_only_bearer, revoke, sign_in_and_allow, state_of, step

LIB = "tweepy"
X_API = "https://api.twitter.com"
X_WEB = "https://twitter.com"
TOKEN_URL = X_API + "/2/oauth2/token"


class ToRoost(HTTPAdapter):
    """Sends what tweepy addresses to api.twitter.com to roost instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request, *args, **kwargs):
        request.url = self.base + request.url[len(X_API) :]
        return super().send(request, *args, **kwargs)


def point_at_roost(session, base: str):
    session.mount(X_API, ToRoost(base))
    return session


def api_client(base: str, bearer: str) -> tweepy.Client:
    client = tweepy.Client(bearer_token=bearer)
    point_at_roost(client.session, base)
    return client


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_tweepy_journey(world, kind):
    app = world.apps[kind]
    user = world.users[f"{LIB}-{kind}"]
    lib = f"{LIB} ({kind} client)"
    handler = tweepy.OAuth2UserHandler(
        client_id=app.client_id,
        redirect_uri=CALLBACK,
        scope=SCOPES,
        client_secret=app.client_secret,
    )
    point_at_roost(handler, world.base)

    with step(lib, "build the authorize URL"):
        x_url = handler.get_authorization_url()
        assert x_url.startswith(X_WEB + "/i/oauth2/authorize?")
        url = world.base + x_url[len(X_WEB) :]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert set(query["scope"][0].split()) == set(SCOPES)
        state = state_of(url)

    callback = sign_in_and_allow(lib, url, user)
    with step(lib, "the callback carries the library's state"):
        assert callback.state == state

    with step(lib, "exchange the code"):
        # oauthlib checks the callback's state against its own and the returned scope against
        # the requested one ("Scope has changed") here.
        token = handler.fetch_token(callback.url)
        assert token["token_type"].lower() == "bearer"
        assert token["refresh_token"]
        assert set(token["scope"]) == set(SCOPES)

    with step(lib, "refresh"):
        before = token
        extra = {} if app.client_secret else {"client_id": app.client_id}
        # A confidential handler sends HTTP Basic on every request (tweepy sets session.auth).
        token = handler.refresh_token(TOKEN_URL, **extra)
        assert token["access_token"] != before["access_token"]
        assert token["refresh_token"] != before["refresh_token"]
        assert set(token["scope"]) == set(SCOPES)

    # OAuth 2.0 user tokens go in bearer_token, with user_auth=False (True means OAuth 1.0a).
    client = api_client(world.base, token["access_token"])

    with step(lib, "users/me"):
        me = client.get_me(user_auth=False, user_fields=["created_at", "public_metrics"])
        assert me.data.id == int(user.id)
        assert me.data.username == user.username

    with step(lib, "tweet lookup"):
        tweet = client.get_tweet(
            world.tweet_id, tweet_fields=["author_id", "created_at"], expansions=["author_id"]
        )
        assert tweet.data.id == int(world.tweet_id)
        assert tweet.data.author_id == int(world.targets[0]["id"])
        assert tweet.includes["users"][0].username == world.targets[0]["username"]

    with step(lib, "users by usernames, one unknown"):
        found = client.get_users(usernames=[world.targets[0]["username"], world.unknown_username])
        assert [u.username for u in found.data] == [world.targets[0]["username"]]
        # tweepy hands partial errors over as the dicts X sent, in Response.errors.
        [problem] = found.errors
        assert problem["title"] == "Not Found Error"
        assert problem["value"] == world.unknown_username

    newcomer = world.targets[4]
    with step(lib, "follow"):
        followed = client.follow_user(newcomer["id"], user_auth=False)
        assert followed.data == {"following": True, "pending_follow": False}

    with step(lib, "following list, paginated with tweepy's Paginator"):
        pages = list(tweepy.Paginator(client.get_users_following, user.id, max_results=2))
        ids = [str(u.id) for page in pages for u in page.data]
        assert len(pages) == 3
        assert sorted(ids) == sorted(t["id"] for t in world.targets)

    with step(lib, "unfollow"):
        unfollowed = client.unfollow_user(newcomer["id"], user_auth=False)
        assert unfollowed.data == {"following": False}

    with step(lib, "post a tweet"):
        posted = client.create_tweet(text=f"Posted by {lib} through roost", user_auth=False)
        assert posted.data["text"] == f"Posted by {lib} through roost"

    with step(lib, "delete the tweet"):
        deleted = client.delete_tweet(posted.data["id"], user_auth=False)
        assert deleted.data == {"deleted": True}

    with step(lib, "space lookup"):
        space = client.get_space(world.space_id, space_fields=["title", "creator_id"])
        assert space.data.id == world.space_id
        assert space.data.state == "live"
        assert space.data.creator_id == int(world.targets[0]["id"])

    # tweepy has no revoke call (OAuth2UserHandler offers authorize, fetch_token and
    # refresh_token only): a plain POST to /2/oauth2/revoke, as X documents it.
    with step(lib, "revoke the access token (plain POST: tweepy has no revoke call)"):
        revoke(world.base, app, token["access_token"], "access_token")

    with step(lib, "the revoked token is refused"):
        with pytest.raises(tweepy.Unauthorized) as refused:
            client.get_me(user_auth=False)
        assert refused.value.response.status_code == 401

    with step(lib, "revoke the refresh token (plain POST); the library's refresh is refused"):
        revoke(world.base, app, token["refresh_token"], "refresh_token")
        with pytest.raises(Exception, match="Value passed for the token was invalid"):
            handler.refresh_token(TOKEN_URL, **extra)


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_tweepy_app_only(world, kind):
    app = world.apps[kind]
    lib = f"{LIB} (app-only, {kind} App)"
    # tweepy.OAuth2AppHandler posts to a hard-coded https://api.twitter.com/oauth2/token with the
    # module-level requests.post (no session to mount the rewrite on), and serves only the v1.1
    # API class: the Bearer Token is obtained with a plain POST, then used by tweepy.Client.
    with step(lib, "obtain a Bearer Token with the API key and secret (plain POST)"):
        bearer = app_only_bearer(world.base, app)
    client = api_client(world.base, bearer)
    with step(lib, "read a tweet"):
        tweet = client.get_tweet(world.tweet_id)
        assert tweet.data.id == int(world.tweet_id)
        assert tweet.data.text.startswith("Hello from the Python client suite")
    with step(lib, "a user-context endpoint refuses the app-only token"):
        with pytest.raises(tweepy.Forbidden) as refused:
            client.get_me(user_auth=False)
        # tweepy's message is X's `detail`; the problem itself is on the response.
        assert "Application-Only is forbidden" in str(refused.value)
        assert refused.value.response.json()["title"] == "Unsupported Authentication"
