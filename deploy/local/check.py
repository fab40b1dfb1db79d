#!/usr/bin/env python3
"""The steps of deploy/local/run that are easier in Python (standard library only).

    check.py render TEMPLATE OUT      renders the nginx template as the official image does
                                      (envsubst), from ROOST_* environment variables; refuses a
                                      placeholder without a value
    check.py wait URL PID [CAFILE]    waits until URL answers 200, failing if PID exits first
    check.py compose DIR              checks DIR/compose.yaml's structure and its agreement with
                                      DIR/roost.toml and DIR/nginx/roost.conf.template (and runs
                                      `docker compose config` when the docker CLI has compose)
    check.py stack STACK.json [--keep-nodes]
                                      checks a running stack through its proxy; the last checks
                                      kill nodes, unless --keep-nodes

The stack checks play several clients from different loopback addresses (127.0.0.0/8 is all
this machine): nginx reaches the nodes from 127.0.0.1, the one address the nodes trust.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

CALLBACK = "http://127.0.0.1:8976/callback"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CheckFailed(Exception):
    pass


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --- render, wait -------------------------------------------------------------------------------


def render(template: Path, out: Path) -> None:
    text = template.read_text()
    names = sorted(set(PLACEHOLDER.findall(text)))
    missing = [n for n in names if n not in os.environ]
    if missing:
        sys.exit(f"check.py render: no value for {', '.join(missing)} in the environment")
    out.write_text(PLACEHOLDER.sub(lambda m: os.environ[m.group(1)], text))


def wait(url: str, pid: int, cafile: str | None, seconds: float = 60.0) -> None:
    parts = urllib.parse.urlsplit(url)
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"check.py wait: process {pid} exited before {url} answered")
        try:
            client = Client(f"{parts.scheme}://{parts.netloc}", "127.0.0.1", cafile)
            if client.request("GET", parts.path).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"check.py wait: {url} did not answer 200 within {seconds:.0f} s")


# --- HTTP as a client at a chosen address ---------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def request_id(self) -> str:
        rid = self.header("x-request-id")
        ensure(rid is not None, "an answer has no x-request-id")
        return rid


class Client:
    """One client machine: every connection leaves from `source`, TLS is verified against the
    test CA, cookies are kept (name -> value), and nothing is followed automatically."""

    def __init__(self, base: str, source: str, cafile: str | None = None) -> None:
        parts = urllib.parse.urlsplit(base)
        self.scheme = parts.scheme
        self.host_header = parts.netloc
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.source = source
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, headers: dict | None = None, body=None) -> Response:
        # The certificate names localhost and 127.0.0.1; the connection goes to 127.0.0.1 so it
        # can leave from a chosen loopback address, and says `Host: localhost:PORT` as a
        # browser would.
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=30, context=self.context,
                source_address=(self.source, 0),
            )
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30, source_address=(self.source, 0)
            )
        h = {"Host": self.host_header}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        for c in resp.all("set-cookie"):
            self.set_cookies.append(c)
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return resp


class Forms(html.parser.HTMLParser):
    """The forms of a roost page: action, inputs (hidden ones too) and named buttons."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))


# --- compose.yaml ---------------------------------------------------------------------------------


def check_compose(deploy: Path) -> None:
    import yaml  # PyYAML: Debian's python3-yaml, or pip's; only this check needs it

    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    template = (deploy / "nginx" / "roost.conf.template").read_text()
    roost = tomllib.loads((deploy / "roost.toml").read_text())
    services = compose.get("services") or {}
    nodes = [n for n in ("node1", "node2", "node3") if n in services]
    ensure(len(nodes) == 3, f"compose.yaml: expected node1, node2, node3; found {sorted(services)}")
    for name in ("postgres", "proxy"):
        ensure(name in services, f"compose.yaml: no `{name}` service")
    networks = compose.get("networks") or {}

    pg = services["postgres"]
    ensure(str(pg.get("image", "")).startswith("postgres:"), "postgres: not the official image")
    ensure("healthcheck" in pg, "postgres: no healthcheck")
    pg_volumes = [str(v).split(":", 1)[0] for v in pg.get("volumes", [])]
    ensure(any(v in (compose.get("volumes") or {}) for v in pg_volumes),
           "postgres: its data is not on a named volume")
    ensure("ports" not in pg, "postgres: must not publish a port")

    addresses = {}
    for name in nodes:
        node = services[name]
        build = node.get("build") or {}
        ensure((deploy / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve()
               == (deploy / "Dockerfile").resolve(), f"{name}: not built from deploy/Dockerfile")
        cmd = node.get("command") or []
        ensure(cmd[:1] == ["serve"], f"{name}: the command is not `serve`")
        ensure("--addr" in cmd and cmd[cmd.index("--addr") + 1] == "0.0.0.0:8080",
               f"{name}: not serving on 0.0.0.0:8080")
        ensure("--public-url" in cmd, f"{name}: no --public-url")
        env = node.get("environment") or {}
        ensure(str(env.get("ROOST_DATABASE_URL", "")).startswith("postgres://"),
               f"{name}: ROOST_DATABASE_URL is not a postgres:// URL")
        ensure(env.get("ROOST_CONFIG") == "/etc/roost/roost.toml", f"{name}: ROOST_CONFIG")
        ensure(any(str(v).startswith("./roost.toml:/etc/roost/roost.toml") for v in node.get("volumes", [])),
               f"{name}: deploy/roost.toml is not mounted at /etc/roost/roost.toml")
        dep = (node.get("depends_on") or {}).get("postgres") or {}
        ensure(dep.get("condition") == "service_healthy", f"{name}: does not wait for a healthy postgres")
        ensure("/readyz" in " ".join((node.get("healthcheck") or {}).get("test", [])),
               f"{name}: the healthcheck does not probe /readyz")
        ensure("ports" not in node, f"{name}: must not publish a port (only the proxy does)")
        nets = node.get("networks") or {}
        ensure("db" in nets and "edge" in nets, f"{name}: must be on the edge and db networks")
        addresses[name] = nets["edge"]["ipv4_address"]

    proxy = services["proxy"]
    ensure(str(proxy.get("image", "")).startswith("nginx:"), "proxy: not the official nginx image")
    penv = {k: str(v) for k, v in (proxy.get("environment") or {}).items()}
    wanted = set(PLACEHOLDER.findall(template))
    given = {k for k in penv if k.startswith("ROOST_")}
    ensure(wanted == given,
           f"proxy: the template's placeholders {sorted(wanted)} differ from its environment {sorted(given)}")
    ensure(any(str(v).endswith(":/etc/nginx/templates/default.conf.template:ro")
               and str(v).startswith("./nginx/roost.conf.template")
               for v in proxy.get("volumes", [])),
           "proxy: deploy/nginx/roost.conf.template is not mounted as the image's template")
    for i, name in enumerate(nodes, 1):
        ensure(penv.get(f"ROOST_NODE{i}") == f"{name}:8080", f"proxy: ROOST_NODE{i} is not {name}:8080")
    for dep in nodes:
        ensure(((proxy.get("depends_on") or {}).get(dep) or {}).get("condition") == "service_healthy",
               f"proxy: does not wait for a healthy {dep}")
    ports = [str(p) for p in proxy.get("ports", [])]
    ensure(len(ports) == 1 and ports[0].endswith(":" + penv["ROOST_LISTEN"]),
           f"proxy: publishes {ports}, not its listen port {penv.get('ROOST_LISTEN')}")
    proxy_addr = (proxy.get("networks") or {}).get("edge", {}).get("ipv4_address")
    ensure(proxy_addr is not None, "proxy: no fixed address on the edge network")

    trusted = roost.get("server", {}).get("trusted_proxies", [])
    ensure(trusted in ([proxy_addr], [proxy_addr + "/32"]),
           f"roost.toml: trusted_proxies is {trusted}; it must be the proxy's edge address {proxy_addr} alone")
    ensure(proxy_addr not in addresses.values(), "the proxy shares an address with a node")
    ensure(roost.get("server", {}).get("forwarded_header", "x-forwarded-for") == "x-forwarded-for",
           "roost.toml: nginx writes X-Forwarded-For")
    ensure("$proxy_add_x_forwarded_for" in template, "the template does not append to X-Forwarded-For")
    for name in ("edge", "db"):
        ensure((networks.get(name) or {}).get("internal") is True, f"network {name}: not internal")
    ensure("public" not in (services[nodes[0]].get("networks") or {}), "nodes must not be on `public`")

    public_url = services[nodes[0]]["command"][services[nodes[0]]["command"].index("--public-url") + 1]
    ensure(public_url.startswith("https://") or public_url.startswith("${ROOST_PUBLIC_URL:-https://"),
           f"nodes: the public URL {public_url} is not https")

    docker = shutil.which("docker")
    has_compose = docker and subprocess.run(
        [docker, "compose", "version"], capture_output=True
    ).returncode == 0
    if has_compose:
        env = dict(os.environ, POSTGRES_PASSWORD="compose-config-check")
        done = subprocess.run([docker, "compose", "-f", str(deploy / "compose.yaml"), "config", "-q"],
                              capture_output=True, text=True, env=env)
        ensure(done.returncode == 0, f"docker compose config: {done.stderr.strip()}")
        print("compose.yaml: `docker compose config` accepts it")
    print(f"compose.yaml: {len(services)} services; nginx at {proxy_addr} is the only trusted proxy")


# --- the running stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    public_url: str
    cacert: str
    access_log: Path
    app: dict
    users: dict
    nodes: list[dict]
    pg_dir: str = ""  # the throwaway PostgreSQL the run started, if it did
    access_token: str = ""  # the flow's, for the failover checks

    @classmethod
    def load(cls, path: Path) -> "Stack":
        s = json.loads(path.read_text())
        return cls(s["public_url"], s["cacert"], Path(s["proxy_access_log"]), s["app"], s["users"],
                   s["nodes"], s.get("pg_dir", ""))

    def client(self, source: str) -> Client:
        return Client(self.public_url, source, self.cacert)

    def node_client(self, i: int, source: str) -> Client:
        return Client(self.nodes[i]["url"], source)

    def log_lines(self) -> list[tuple[str, dict]]:
        """Every JSON line of every node's log, with the node's name."""
        out = []
        for node in self.nodes:
            for line in Path(node["log"]).read_text(errors="replace").splitlines():
                try:
                    out.append((node["name"], json.loads(line)))
                except ValueError:
                    pass
        return out

    def served(self, request_ids: list[str], seconds: float = 5.0) -> dict[str, tuple[str, str]]:
        """request id -> (node, client_addr), from the nodes' logs ("finished processing request"
        is written as the answer leaves, so it may lag the client by a moment)."""
        until = time.monotonic() + seconds
        while True:
            found = {}
            for node, line in self.log_lines():
                span = line.get("span") or {}
                rid = span.get("request_id")
                if rid in request_ids and line.get("message") == "finished processing request":
                    found[rid] = (node, span.get("client_addr"))
            if len(found) == len(request_ids) or time.monotonic() > until:
                missing = [r for r in request_ids if r not in found]
                ensure(not missing, f"no node logged the requests {missing}")
                return found
            time.sleep(0.05)

    def proxy_log(self, request_ids: list[str], seconds: float = 5.0) -> dict[str, dict]:
        """request id -> the proxy's access log line, parsed (nginx writes a line once the answer
        has gone, so it may lag the client by a moment)."""
        until = time.monotonic() + seconds
        while True:
            lines = self._proxy_lines()
            missing = [r for r in request_ids if r not in lines]
            if not missing or time.monotonic() > until:
                ensure(not missing, f"the proxy did not log the requests {missing}")
                return lines
            time.sleep(0.05)

    def _proxy_lines(self) -> dict[str, dict]:
        out = {}
        pattern = re.compile(
            r'^(?P<remote>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>[^"]*)" (?P<status>\d+) '
            r"\d+ rt=\S+ upstream=(?P<upstream>.*?) upstream_status=(?P<upstream_status>.*?) "
            r"request_id=(?P<rid>\S+)$"
        )
        for line in self.access_log.read_text(errors="replace").splitlines():
            m = pattern.match(line)
            if m:
                out[m["rid"]] = m.groupdict()
        return out


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_path(app: dict, state: str, challenge: str) -> str:
    return "/i/oauth2/authorize?" + urllib.parse.urlencode({
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "tweet.read users.read offline.access",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })


def login_form(stack: Stack, browser: Client) -> tuple[dict, list[str]]:
    """Opens an authorize URL; returns the login form and the request ids of the exchange."""
    _, challenge = pkce()
    page = browser.request("GET", authorize_path(stack.app, secrets.token_urlsafe(12), challenge))
    ensure(page.status == 200, f"the authorize page answered {page.status}")
    form = next((f for f in Forms(page.text).forms if "password" in f["fields"]), None)
    ensure(form is not None, "no login form on the authorize page")
    return form, [page.request_id]


def sign_in(stack: Stack, browser: Client, form: dict, username: str, password: str,
            headers: dict | None = None) -> Response:
    origin = stack.public_url
    fields = dict(form["fields"], username=username, password=password)
    return browser.request("POST", urllib.parse.urlsplit(form["action"]).path,
                           headers={"Origin": origin, **(headers or {})}, body=fields)


def follow(stack: Stack, browser: Client, signed_in: Response) -> Response:
    """A successful login answers 303 back to the authorize URL (post/redirect/get), which
    roost builds from its public URL; the browser follows it to the consent page."""
    location = signed_in.header("location") or ""
    ensure(signed_in.status == 303 and location.startswith(stack.public_url + "/i/oauth2/authorize?"),
           f"signing in answered {signed_in.status} to {location.split('?')[0]!r}, "
           "not a redirect to the public URL's authorize page")
    return browser.request("GET", location[len(stack.public_url):])


def check_public_url(stack: Stack) -> None:
    c = stack.client("127.0.0.5")
    # A client's Host and X-Forwarded-* change nothing: every URL comes from the public URL.
    r = c.request("GET", "/.well-known/oauth-authorization-server", headers={
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
        "Forwarded": "host=evil.example;proto=http",
    })
    ensure(r.status == 200, f"metadata answered {r.status}")
    meta = r.json()
    ensure(meta["issuer"] == stack.public_url, f"issuer {meta['issuer']} is not {stack.public_url}")
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        ensure(meta[key].startswith(stack.public_url + "/"), f"{key} {meta[key]} is not under the public URL")
    ensure(r.header("strict-transport-security") is not None, "no HSTS over https")
    direct = stack.node_client(0, "127.0.0.5").request(
        "GET", "/.well-known/oauth-authorization-server", headers={"Host": "node1.internal:8080"})
    ensure(direct.json()["issuer"] == stack.public_url, "a node's own Host changed the issuer")
    doc = c.request("GET", "/2/openapi.json").json()
    ensure(doc["servers"][0]["url"] == stack.public_url, "the OpenAPI document's server is not the public URL")
    print(f"  public URL: metadata, endpoints and the OpenAPI server are {stack.public_url}, whatever Host "
          "and X-Forwarded-Host/-Proto say; HSTS is sent")


def check_flow(stack: Stack) -> None:
    client_addr = "127.0.0.7"
    browser = stack.client(client_addr)
    ids = []
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(12)
    page = browser.request("GET", authorize_path(stack.app, state, challenge),
                           headers={"X-Forwarded-For": "198.51.100.23"})
    ids.append(page.request_id)
    ensure(page.status == 200, f"the authorize page answered {page.status}")
    login = next(f for f in Forms(page.text).forms if "password" in f["fields"])
    ensure(login["action"] == stack.public_url + "/i/oauth2/authorize",
           f"the login form posts to {login['action']}, not the public URL")
    cookies = [c for c in browser.set_cookies if c.startswith("__Host-")]
    ensure(cookies and all("; Secure" in c for c in cookies),
           f"cookies over https must be __Host- and Secure: {browser.set_cookies}")

    signed_in = sign_in(stack, browser, login, "deploy_alice", stack.users["deploy_alice"])
    ids.append(signed_in.request_id)
    page = follow(stack, browser, signed_in)
    ids.append(page.request_id)
    consent = next((f for f in Forms(page.text).forms if ("decision", "allow") in f["buttons"]), None)
    ensure(page.status == 200 and consent is not None, f"no consent form after signing in ({page.status})")
    ensure(consent["action"] == stack.public_url + "/i/oauth2/authorize", "the consent form's action")
    ensure(browser.cookies.keys() >= {"__Host-roost_session", "__Host-roost_browser"},
           f"no session cookie after signing in: {sorted(browser.cookies)}")
    answer = browser.request("POST", "/i/oauth2/authorize", headers={"Origin": stack.public_url},
                             body=dict(consent["fields"], decision="allow"))
    ids.append(answer.request_id)
    location = answer.header("location") or ""
    ensure(answer.status in (302, 303) and location.startswith(CALLBACK + "?"),
           f"consent answered {answer.status} to {location.split('?')[0]!r}, not the callback")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    ensure(query["state"] == [state], "the callback's state")

    app = stack.app
    api = stack.client(client_addr)
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    token = api.request("POST", "/2/oauth2/token", headers={"Authorization": f"Basic {basic}"}, body={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": CALLBACK, "code_verifier": verifier,
    })
    ids.append(token.request_id)
    ensure(token.status == 200, f"the code exchange answered {token.status}: {token.text}")
    access = token.json()["access_token"]
    stack.access_token = access
    for _ in range(3):
        me = api.request("GET", "/2/users/me", headers={"Authorization": f"Bearer {access}"})
        ids.append(me.request_id)
        ensure(me.status == 200 and me.json()["data"]["username"] == "deploy_alice",
               f"/2/users/me answered {me.status}: {me.text}")

    served = stack.served(ids)
    nodes = [served[r][0] for r in ids]
    ensure(len(set(nodes)) > 1, f"every request of the flow went to {nodes[0]}")
    proxy = stack.proxy_log(ids)
    upstreams = {n["name"]: n["upstream"] for n in stack.nodes}
    for rid in ids:
        ensure(rid in proxy and proxy[rid]["upstream"] == upstreams[served[rid][0]],
               f"the proxy's log and the nodes' logs disagree on request {rid}")
    addrs = {served[r][1] for r in ids}
    ensure(addrs == {client_addr}, f"roost attributed the flow to {addrs}, not the client {client_addr}")
    print(f"  OAuth flow: authorize, login (303 to the public URL), consent, code exchange, /2/users/me ×3 "
          f"through the proxy; "
          f"served by {' '.join(nodes)}")
    print(f"  client address: every request of the flow is {client_addr} in the nodes' logs (nginx's "
          "X-Forwarded-For; the client's own X-Forwarded-For in front of it is ignored)")


def check_forwarded_for(stack: Stack) -> None:
    # The same header, sent straight to a node, by a client that is not the proxy.
    direct = stack.node_client(1, "127.0.0.8").request(
        "GET", "/healthz", headers={"X-Forwarded-For": "198.51.100.23"})
    served = stack.served([direct.request_id])
    ensure(served[direct.request_id][1] == "127.0.0.8",
           f"a node believed a client's X-Forwarded-For: {served[direct.request_id][1]}")
    print("  client address: X-Forwarded-For sent to a node by anyone but the proxy is ignored "
          "(127.0.0.8 stays 127.0.0.8)")


def check_login_throttling(stack: Stack, attempt: int = 0) -> None:
    """Failed logins count per username and client address, across nodes (the counts are in the
    database). The windows are 15 minutes of the clock: a run that straddles a boundary starts
    over once, with another client address."""
    window = 900
    start_window = int(time.time()) // window
    attacker = f"127.0.0.{20 + 2 * attempt}"
    other = f"127.0.0.{21 + 2 * attempt}"
    user = "deploy_bob"
    ids = []
    for _ in range(5):
        browser = stack.client(attacker)
        form, _ = login_form(stack, browser)
        r = sign_in(stack, browser, form, user, "not-the-password")
        ids.append(r.request_id)
        ensure(r.status == 401, f"a wrong password answered {r.status}, not 401")
    refused = []
    # The right password now, from the same address: through the proxy with a forged
    # X-Forwarded-For, and straight to a node with one.
    browser = stack.client(attacker)
    form, _ = login_form(stack, browser)
    refused.append(sign_in(stack, browser, form, user, stack.users[user], {"X-Forwarded-For": other}))
    form, _ = login_form(stack, browser)
    direct = stack.node_client(2, attacker)
    direct.cookies = dict(browser.cookies)
    refused.append(sign_in(stack, direct, form, user, stack.users[user], {"X-Forwarded-For": other}))
    # Another client, through the proxy, is not affected.
    browser = stack.client(other)
    form, _ = login_form(stack, browser)
    allowed = follow(stack, browser, sign_in(stack, browser, form, user, stack.users[user]))
    if int(time.time()) // window != start_window and attempt == 0:
        return check_login_throttling(stack, attempt + 1)
    for r in refused:
        ensure(r.status == 429 and r.header("retry-after"),
               f"the sixth login from {attacker} answered {r.status}, not 429 with Retry-After")
    ensure(allowed.status == 200 and "decision" in allowed.text,
           f"{other}'s login answered {allowed.status}: the throttling was not per client address")
    served = stack.served(ids)
    nodes = {served[r][0] for r in ids}
    ensure(len(nodes) > 1, "the five failures all went to one node")
    print(f"  login throttling: 5 failures from {attacker} on {' '.join(sorted(nodes))} → 429 for it "
          f"(also with a forged X-Forwarded-For, through the proxy or straight to a node); {other} signs in")


def check_database_outage(stack: Stack) -> None:
    """PostgreSQL killed: the nodes' own 503s reach the client unchanged and are not retried on
    another node (they would answer the same) nor count against the node; PostgreSQL back: every
    node serves again, with no restart."""
    pg = ["scripts/pg-throwaway"]
    app = stack.app
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    api = stack.client("127.0.0.9")
    subprocess.run(pg + ["kill", stack.pg_dir], check=True, capture_output=True)
    ids = []
    try:
        for _ in range(3):
            r = api.request("GET", "/readyz")
            ensure(r.status == 503, f"/readyz with PostgreSQL down answered {r.status}")
            ids.append(r.request_id)
            r = api.request("POST", "/2/oauth2/token", headers={"Authorization": f"Basic {basic}"},
                            body={"grant_type": "authorization_code", "code": "x" * 40,
                                  "redirect_uri": CALLBACK, "code_verifier": "v" * 43})
            ensure(r.status == 503 and r.json().get("error") == "temporarily_unavailable"
                   and r.header("retry-after"),
                   f"the token endpoint with PostgreSQL down answered {r.status}: {r.text}")
            ids.append(r.request_id)
    finally:
        subprocess.run(pg + ["restart", stack.pg_dir], check=True, capture_output=True)
    proxy = stack.proxy_log(ids)
    tried = {rid: proxy[rid]["upstream"] for rid in ids}
    ensure(all("," not in u for u in tried.values()),
           f"nginx passed a node's 503 on to another node: {sorted(tried.values())}")
    served = stack.served(ids)
    ensure(len({served[r][0] for r in ids}) == 3, "the 503s did not come from every node")
    until = time.monotonic() + 20
    ready = 0
    while ready < 6:
        ensure(time.monotonic() < until, "the nodes did not serve again after PostgreSQL came back")
        r = api.request("GET", "/readyz")
        ready = ready + 1 if r.status == 200 else 0
        if r.status != 200:
            time.sleep(0.2)
    print("  database outage: PostgreSQL killed → every node's own 503 reaches the client as roost sent "
          "it, tried on one node only; PostgreSQL restarted → all nodes ready again, none restarted")


def check_failover(stack: Stack) -> None:
    """A node that dies is skipped; when none is left, clients get 503s in roost's shapes."""
    api = stack.client("127.0.0.9")
    bearer = {"Authorization": f"Bearer {stack.access_token}"}
    app = stack.app
    app_basic = base64.b64encode(f"{app['api_key']}:{app['api_secret']}".encode()).decode()
    os.kill(stack.nodes[2]["pid"], signal.SIGKILL)
    ids = []
    for _ in range(4):
        r = api.request("GET", "/2/users/me", headers=bearer)
        ensure(r.status == 200, f"/2/users/me answered {r.status} with node3 down")
        ids.append(r.request_id)
        r = api.request("POST", "/oauth2/token", headers={"Authorization": f"Basic {app_basic}"},
                        body={"grant_type": "client_credentials"})
        ensure(r.status == 200, f"an app-only token request answered {r.status} with node3 down")
        ids.append(r.request_id)
    proxy = stack.proxy_log(ids)
    dead = stack.nodes[2]["upstream"]
    retried = [rid for rid in ids if dead in proxy.get(rid, {}).get("upstream", "")]
    ensure(retried, "no request tried node3 after it died: nginx did not fail over")
    ensure(all(proxy[rid]["upstream"].split(", ")[-1] != dead for rid in retried),
           "a request was answered by the dead node")
    for node in stack.nodes[:2]:
        os.kill(node["pid"], signal.SIGKILL)
    for path, method, headers, body, kind, want in [
        ("/2/users/me", "GET", bearer, None, "application/problem+json", {"title": "Service Unavailable"}),
        ("/2/oauth2/token", "POST", {"Authorization": f"Basic {app_basic}"},
         {"grant_type": "client_credentials"}, "application/json", {"error": "temporarily_unavailable"}),
        ("/oauth2/token", "POST", {"Authorization": f"Basic {app_basic}"},
         {"grant_type": "client_credentials"}, "application/json", {"errors": [{"code": 130, "message": "Over capacity"}]}),
    ]:
        started = time.monotonic()
        r = api.request(method, path, headers=headers, body=body)
        took = time.monotonic() - started
        ensure(r.status == 503 and r.header("retry-after") == "1",
               f"{method} {path} with every node down answered {r.status} (Retry-After {r.header('retry-after')})")
        ensure((r.header("content-type") or "").startswith(kind), f"{path}: content type {r.header('content-type')}")
        got = r.json()
        ensure(all(got.get(k) == v for k, v in want.items()), f"{path}: body {got}")
        ensure(took < 5, f"{path}: the 503 took {took:.1f} s")
    page = api.request("GET", authorize_path(app, "s", pkce()[1]))
    ensure(page.status == 503 and "text/html" in (page.header("content-type") or ""), "the authorize page's 503")
    print(f"  failover: node3 killed → {len(ids)} requests (GET and POST) all answered, {len(retried)} of "
          "them after nginx tried node3; every node killed → 503 with Retry-After in each endpoint's shape")


def check_stack(path: Path, keep_nodes: bool) -> None:
    stack = Stack.load(path)
    # The nodes learn of the App and users the CLI made within their content poll (1 s).
    until = time.monotonic() + 10
    api = stack.client("127.0.0.5")
    app = stack.app
    basic = base64.b64encode(f"{app['api_key']}:{app['api_secret']}".encode()).decode()
    while True:
        r = api.request("POST", "/oauth2/token", headers={"Authorization": f"Basic {basic}"},
                        body={"grant_type": "client_credentials"})
        if r.status == 200 or time.monotonic() > until:
            ensure(r.status == 200, f"the App made with the CLI is unknown to the nodes: {r.status}")
            break
        time.sleep(0.2)
    print(f"checks through {stack.public_url}:")
    check_public_url(stack)
    check_flow(stack)
    check_forwarded_for(stack)
    check_login_throttling(stack)
    if not keep_nodes:
        if stack.pg_dir:
            check_database_outage(stack)
        check_failover(stack)
    for node, line in stack.log_lines():
        ensure("panicked" not in json.dumps(line), f"{node} panicked: {line}")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "render" and len(args) == 2:
            render(Path(args[0]), Path(args[1]))
        elif cmd == "wait" and len(args) in (2, 3):
            wait(args[0], int(args[1]), args[2] if len(args) == 3 else None)
        elif cmd == "compose" and len(args) == 1:
            check_compose(Path(args[0]))
        elif cmd == "stack" and len(args) in (1, 2):
            check_stack(Path(args[0]), keep_nodes=args[1:] == ["--keep-nodes"])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except CheckFailed as e:
        print(f"deploy check failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
