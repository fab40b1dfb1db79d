"""authlib against roost. authlib is a generic OAuth 2.0 client: it is given roost's endpoints
(the same paths as X's, on roost's base URL) and signs the API calls with its own token auth."""

import urllib.parse

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from harness import CALLBACK, SCOPES, sign_in_and_allow, state_of, step

LIB = "authlib"


def endpoints(base: str) -> dict:
    return {
        "authorize": base + "/i/oauth2/authorize",
        "token": base + "/2/oauth2/token",
        "revoke": base + "/2/oauth2/revoke",
        "app_token": base + "/oauth2/token",
    }


def checked(response):
    """authlib's session is a requests.Session: an HTTP error is raised the requests way."""
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_authlib_journey(world, kind):
    app = world.apps[kind]
    user = world.users[f"{LIB}-{kind}"]
    lib = f"{LIB} ({kind} client)"
    url_of = endpoints(world.base)
    session = OAuth2Session(
        client_id=app.client_id,
        client_secret=app.client_secret,
        scope=" ".join(SCOPES),
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if app.client_secret else "none",
    )
    api = world.base + "/2"

    with step(lib, "build the authorize URL"):
        verifier = generate_token(64)
        url, state = session.create_authorization_url(url_of["authorize"], code_verifier=verifier)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert set(query["scope"][0].split()) == set(SCOPES)
        assert state_of(url) == state

    callback = sign_in_and_allow(lib, url, user)
    with step(lib, "the callback carries the library's state"):
        assert callback.state == state

    with step(lib, "exchange the code"):
        # authlib checks the callback's state against the one it was given.
        token = session.fetch_token(
            url_of["token"],
            authorization_response=callback.url,
            state=state,
            code_verifier=verifier,
        )
        assert token["token_type"].lower() == "bearer"
        assert token["refresh_token"]
        assert set(token["scope"].split()) == set(SCOPES)

    with step(lib, "refresh"):
        before = dict(token)
        token = session.refresh_token(url_of["token"], refresh_token=token["refresh_token"])
        assert token["access_token"] != before["access_token"]
        assert token["refresh_token"] != before["refresh_token"]
        assert session.token["access_token"] == token["access_token"]

    with step(lib, "users/me"):
        me = checked(session.get(f"{api}/users/me", params={"user.fields": "created_at"}))
        assert me["data"]["id"] == user.id
        assert me["data"]["username"] == user.username

    with step(lib, "tweet lookup"):
        tweet = checked(
            session.get(
                f"{api}/tweets/{world.tweet_id}",
                params={"tweet.fields": "author_id,created_at", "expansions": "author_id"},
            )
        )
        assert tweet["data"]["author_id"] == world.targets[0]["id"]
        assert tweet["includes"]["users"][0]["username"] == world.targets[0]["username"]

    with step(lib, "users by usernames, one unknown"):
        found = checked(
            session.get(
                f"{api}/users/by",
                params={"usernames": f"{world.targets[0]['username']},{world.unknown_username}"},
            )
        )
        assert [u["username"] for u in found["data"]] == [world.targets[0]["username"]]
        # A generic client hands over X's body as it is: the partial error is in `errors`.
        [problem] = found["errors"]
        assert problem["title"] == "Not Found Error"
        assert problem["value"] == world.unknown_username

    newcomer = world.targets[4]
    with step(lib, "follow"):
        followed = checked(
            session.post(
                f"{api}/users/{user.id}/following", json={"target_user_id": newcomer["id"]}
            )
        )
        assert followed["data"] == {"following": True, "pending_follow": False}

    with step(lib, "following list, paginated by next_token (authlib has no paginator)"):
        ids, pages, params = [], 0, {"max_results": 2}
        while True:
            page = checked(session.get(f"{api}/users/{user.id}/following", params=params))
            pages += 1
            ids += [u["id"] for u in page["data"]]
            if "next_token" not in page["meta"]:
                break
            params["pagination_token"] = page["meta"]["next_token"]
        assert pages == 3
        assert sorted(ids) == sorted(t["id"] for t in world.targets)

    with step(lib, "unfollow"):
        unfollowed = checked(session.delete(f"{api}/users/{user.id}/following/{newcomer['id']}"))
        assert unfollowed["data"] == {"following": False}

    with step(lib, "post a tweet"):
        posted = checked(session.post(f"{api}/tweets", json={"text": f"Posted by {lib} through roost"}))
        assert posted["data"]["text"] == f"Posted by {lib} through roost"

    with step(lib, "delete the tweet"):
        deleted = checked(session.delete(f"{api}/tweets/{posted['data']['id']}"))
        assert deleted["data"] == {"deleted": True}

    with step(lib, "space lookup"):
        space = checked(
            session.get(
                f"{api}/spaces/{world.space_id}", params={"space.fields": "title,creator_id"}
            )
        )
        assert space["data"]["id"] == world.space_id
        assert space["data"]["state"] == "live"
        assert space["data"]["creator_id"] == world.targets[0]["id"]

    with step(lib, "revoke the access token with authlib's revoke_token"):
        answer = session.revoke_token(
            url_of["revoke"], token=token["access_token"], token_type_hint="access_token"
        )
        assert answer.status_code == 200
        assert answer.json() == {"revoked": True}

    with step(lib, "the revoked token is refused"):
        refused = session.get(f"{api}/users/me")
        assert refused.status_code == 401, refused.text

    with step(lib, "revoke the refresh token with authlib; its refresh is refused"):
        answer = session.revoke_token(
            url_of["revoke"], token=token["refresh_token"], token_type_hint="refresh_token"
        )
        assert answer.json() == {"revoked": True}
        with pytest.raises(Exception, match="Value passed for the token was invalid"):
            session.refresh_token(url_of["token"], refresh_token=token["refresh_token"])


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_authlib_app_only(world, kind):
    app = world.apps[kind]
    lib = f"{LIB} (app-only, {kind} App)"
    url_of = endpoints(world.base)
    # X's app-only Bearer Token is the client_credentials grant with the API key and secret in
    # HTTP Basic, at /oauth2/token: authlib does it itself.
    session = OAuth2Session(
        client_id=app.api_key,
        client_secret=app.api_secret,
        token_endpoint_auth_method="client_secret_basic",
    )
    with step(lib, "obtain a Bearer Token with the API key and secret"):
        token = session.fetch_token(url_of["app_token"], grant_type="client_credentials")
        assert token["token_type"].lower() == "bearer"
        assert "refresh_token" not in token
    with step(lib, "read a tweet"):
        tweet = checked(session.get(f"{world.base}/2/tweets/{world.tweet_id}"))
        assert tweet["data"]["id"] == world.tweet_id
        assert tweet["data"]["text"].startswith("Hello from the Python client suite")
    with step(lib, "a user-context endpoint refuses the app-only token"):
        refused = session.get(f"{world.base}/2/users/me")
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "Unsupported Authentication"
