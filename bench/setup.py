#!/usr/bin/env python3
"""Prepares credentials for the benchmark against a running roost with the demo data.

Signs in once as alice through the real login form, then authorizes the demo web App N times
(one consent each) and exchanges every code, so that the benchmark has N independent refresh
tokens (a refresh token is single-use, so every in-flight refresh needs its own family).
Prints a JSON object: {"access_token", "app_token", "refresh_tokens": [...]}.
Standard library only.
"""
import base64
import hashlib
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.parse
import urllib.request

BASE = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 128
CLIENT_ID = "ZGVtby13ZWItYXBwOjE6Y2k"
CLIENT_SECRET = "demo-web-app-client-secret-not-for-production-use-0001"
API_KEY = "demowebappapikey000000001"
API_SECRET = "demo-web-app-api-secret-not-for-production-use-00001"
CALLBACK = "http://127.0.0.1:8976/callback"
SCOPE = "tweet.read users.read follows.read space.read offline.access"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def call(req):
    try:
        with opener.open(req) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, html)
    if not m:
        sys.exit(f"setup: no {name} in page:\n{html[:500]}")
    return m.group(1)


def post_form(fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(BASE + "/i/oauth2/authorize", data=data, method="POST")
    req.add_header("content-type", "application/x-www-form-urlencoded")
    return call(req)


def one_code(first):
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": SCOPE,
        "state": "bench", "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, _, page = call(BASE + "/i/oauth2/authorize?" + q)
    if first:
        status, headers, _ = post_form({
            "csrf_token": hidden(page, "csrf_token"), "request": hidden(page, "request"),
            "username": "alice", "password": "alice-password",
        })
        if status != 303:
            sys.exit(f"setup: login failed with {status}")
        status, _, page = call(headers["location"] if "location" in headers else headers["Location"])
    status, headers, _ = post_form({
        "csrf_token": hidden(page, "csrf_token"), "request": hidden(page, "request"), "decision": "allow",
    })
    loc = headers.get("location") or headers.get("Location")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["code"][0]
    return code, verifier


def token(fields, user, password, path="/2/oauth2/token"):
    req = urllib.request.Request(BASE + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
    req.add_header("authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    req.add_header("content-type", "application/x-www-form-urlencoded")
    status, _, body = call(req)
    if status != 200:
        sys.exit(f"setup: token request failed with {status}: {body}")
    return json.loads(body)


refresh_tokens = []
access = None
for i in range(N):
    code, verifier = one_code(i == 0)
    t = token({"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
               "code_verifier": verifier}, CLIENT_ID, CLIENT_SECRET)
    access = access or t["access_token"]
    refresh_tokens.append(t["refresh_token"])
app_token = token({"grant_type": "client_credentials"}, API_KEY, API_SECRET, "/oauth2/token")["access_token"]
print(json.dumps({"access_token": access, "app_token": app_token, "refresh_tokens": refresh_tokens}))
