"""The sandbox recipe of the README ("Testing your X app with roost"), as a test: tweepy against
a roost with a manual clock, set up over the admin API — a snapshot and a reset, tokens minted
without a browser, a fault rule, and the clock moved past the access token's lifetime.

It runs its own roost (the manual clock is a server-wide setting, and a reset empties the store),
so the journeys of the other modules never see it.
"""

import shutil

import pytest
import requests
import tweepy

import harness
from test_tweepy import api_client

LIB = "sandbox"


@pytest.fixture(scope="module")
def sandbox():
    server = harness.Roost()
    try:
        # The sandbox controls are off unless turned on (checklist L2).
        server.start("--sandbox", "--clock", "manual")
        yield server
    finally:
        server.stop()
        kept = harness.ROOT / "target" / "clients" / "roost-python-sandbox.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        if server.log_path.exists():
            shutil.copyfile(server.log_path, kept)
        shutil.rmtree(server.dir, ignore_errors=True)


def test_reset_mint_fault_and_clock_through_the_admin_api(sandbox):
    base = sandbox.base
    with harness.step(LIB, "admin token (roost admin-token create)"):
        token = sandbox.cli("admin-token", "create", "--label", "pytest", "--json")["token"]
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, **kwargs) -> dict:
        r = admin.request(method, base + "/admin/v1" + path, timeout=30, **kwargs)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    with harness.step(LIB, "the world, over the admin API, saved as a snapshot"):
        app = call("POST", "/apps", json={"name": "Sandbox App", "type": "confidential",
                                          "callbacks": [harness.CALLBACK]})
        call("POST", "/users", json={"username": "sandbox_alice", "name": "Alice"})
        call("POST", "/snapshots", json={"name": "baseline"})

    # Before each test: back to the baseline (a pytest fixture would do this with autouse=True).
    with harness.step(LIB, "reset to the snapshot"):
        call("POST", "/reset", json={"to": "baseline"})

    with harness.step(LIB, "tokens without a browser, used by tweepy"):
        minted = call("POST", "/tokens", json={"app": app["client_id"], "user": "sandbox_alice",
                                               "scope": "tweet.read users.read offline.access"})
        assert minted["token_type"] == "bearer" and minted["expires_in"] == 7200, minted
        assert "refresh_token" in minted, minted
        client = api_client(base, minted["access_token"])
        assert client.get_me(user_auth=False).data.username == "sandbox_alice"

    with harness.step(LIB, "a fault rule: X's 429 on the next request, then normal answers"):
        call("POST", "/faults", json={"path": "/2/users/me", "fault": "rate_limit", "count": 1})
        with pytest.raises(tweepy.TooManyRequests) as limited:
            client.get_me(user_auth=False)
        assert limited.value.response.headers["x-rate-limit-remaining"] == "0"
        assert client.get_me(user_auth=False).data.username == "sandbox_alice"
        call("DELETE", "/faults")

    with harness.step(LIB, "the clock past the access token's 7200 s"):
        call("POST", "/clock", json={"advance_seconds": 7201})
        with pytest.raises(tweepy.Unauthorized):
            client.get_me(user_auth=False)

    with harness.step(LIB, "reset again: a token minted after the snapshot is refused"):
        later = call("POST", "/tokens", json={"app": app["client_id"], "user": "sandbox_alice",
                                              "scope": "tweet.read users.read"})
        client = api_client(base, later["access_token"])
        assert client.get_me(user_auth=False).data.username == "sandbox_alice"
        call("POST", "/reset", json={"to": "baseline"})
        with pytest.raises(tweepy.Unauthorized):
            client.get_me(user_auth=False)
