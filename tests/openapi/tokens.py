#!/usr/bin/env python3
"""Obtains the tokens scripts/tests-openapi fuzzes with, from a running roost with the demo data.

Signs in as alice through the real login and consent forms (every hidden input posted back, the
session kept in a cookie jar), authorizes the Demo Web App for every scope roost knows, exchanges
the code, and obtains the App's app-only Bearer Token with its API key and secret.
Prints {"user_token": ..., "app_token": ...}. Standard library only.
Usage: tokens.py BASE_URL
"""
import base64
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1]
# The demo data set's public credentials (README, "Try the flow by hand").
CLIENT_ID = "ZGVtby13ZWItYXBwOjE6Y2k"
CLIENT_SECRET = "demo-web-app-client-secret-not-for-production-use-0001"
API_KEY = "demowebappapikey000000001"
API_SECRET = "demo-web-app-api-secret-not-for-production-use-00001"
CALLBACK = "http://127.0.0.1:8976/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def fail(step, status, body):
    sys.exit(f"tests-openapi: {step} failed with {status}:\n{body[:800]}")


def call(req):
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def hidden_inputs(page):
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in found}


def post_form(page, fields):
    data = {**hidden_inputs(page), **fields}
    req = urllib.request.Request(
        BASE + "/i/oauth2/authorize", data=urllib.parse.urlencode(data).encode(), method="POST"
    )
    req.add_header("content-type", "application/x-www-form-urlencoded")
    return call(req)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def token(path, fields, user, password):
    req = urllib.request.Request(
        BASE + path, data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    req.add_header("authorization", basic(user, password))
    req.add_header("content-type", "application/x-www-form-urlencoded")
    status, _, body = call(req)
    if status != 200:
        fail(f"POST {path}", status, body)
    return json.loads(body)


# Every scope roost knows: the consent page lists them, so read them from the metadata.
status, _, body = call(BASE + "/.well-known/oauth-authorization-server")
if status != 200:
    fail("GET /.well-known/oauth-authorization-server", status, body)
scopes = " ".join(json.loads(body)["scopes_supported"])

verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
query = urllib.parse.urlencode({
    "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": scopes,
    "state": secrets.token_urlsafe(16), "code_challenge": challenge,
    "code_challenge_method": "S256",
})
status, _, page = call(BASE + "/i/oauth2/authorize?" + query)
if status != 200:
    fail("GET /i/oauth2/authorize", status, page)
status, headers, body = post_form(page, {"username": "alice", "password": "alice-password"})
if status != 303:
    fail("the login form", status, body)
status, _, page = call(urllib.parse.urljoin(BASE, headers["location"]))
if status != 200:
    fail("the consent page", status, page)
status, headers, body = post_form(page, {"decision": "allow"})
if status != 303:
    fail("the consent form", status, body)
code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
user = token("/2/oauth2/token", {
    "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
    "code_verifier": verifier,
}, CLIENT_ID, CLIENT_SECRET)
granted = set(user["scope"].split())
if granted != set(scopes.split()):
    sys.exit(f"tests-openapi: asked for {scopes!r}, granted {user['scope']!r}")
app = token("/oauth2/token", {"grant_type": "client_credentials"}, API_KEY, API_SECRET)
print(json.dumps({"user_token": user["access_token"], "app_token": app["access_token"]}))
