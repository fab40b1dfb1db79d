"""The harness of the Python client suite: a real roost, real HTML forms, readable failures.

It builds nothing. `ROOST_BIN` names the binary (default `target/debug/roost`); the harness runs
`roost serve` on a free loopback port over a fresh SQLite file in a temporary directory, creates
the Apps and users with roost's own command line, and stops the server at the end, failed or not.

Every HTTP exchange any library makes goes through `requests`' `HTTPAdapter.send`; the harness
wraps that one method to remember the last exchange, so a failed step can print the request and
roost's answer whatever library made it (with tokens, codes, secrets and cookies masked).
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("ROOST_BIN", ROOT / "target" / "debug" / "roost"))

# The scopes, plus tweet.write: the journey posts and deletes a tweet.
SCOPES = [
    "tweet.read",
    "tweet.write",
    "users.read",
    "follows.read",
    "follows.write",
    "space.read",
    "offline.access",
]
# Nothing listens here: the suite reads code and state from the redirect's Location.
CALLBACK = "http://127.0.0.1:8976/callback"

# Names whose values never appear in a failure report.
SECRET_NAMES = {
    "access_token",
    "refresh_token",
    "token",
    "client_secret",
    "api_secret",
    "code",
    "code_verifier",
    "password",
    "csrf_token",
    "request",
}
SECRET_HEADERS = {"authorization", "cookie", "set-cookie"}
BODY_LIMIT = 2000


class StepFailed(AssertionError):
    """A journey step failed; the message names the library, the step and the last exchange."""


# --- the last HTTP exchange, masked ------------------------------------------------------------


def _mask(value: str) -> str:
    return f"<masked, {len(value)} chars>"


def _mask_query(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    masked = [(k, _mask(v) if k in SECRET_NAMES else v) for k, v in pairs]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(masked)))


def _mask_json(value):
    if isinstance(value, dict):
        return {
            k: _mask(v) if k in SECRET_NAMES and isinstance(v, str) else _mask_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def _mask_body(body, content_type: str) -> str:
    if body is None or body == b"" or body == "":
        return "(empty)"
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    content_type = content_type.lower()
    if "json" in content_type:
        try:
            return json.dumps(_mask_json(json.loads(body)), ensure_ascii=False)
        except ValueError:
            pass
    if "x-www-form-urlencoded" in content_type:
        pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
        return urllib.parse.urlencode([(k, _mask(v) if k in SECRET_NAMES else v) for k, v in pairs])
    if "html" in content_type:
        # Hidden inputs carry the CSRF token and the signed request.
        form = FormParser.parse(body)
        summary = [f"<{len(body)} bytes of HTML>"]
        for f in form:
            summary.append(f"form action={f.action!r} inputs={sorted(f.fields)} buttons={f.buttons}")
        for alert in FormParser.alerts(body):
            summary.append(f"alert: {alert}")
        return "\n    ".join(summary)
    text = body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT] + "..."
    return text


def _mask_headers(headers) -> str:
    lines = []
    for k, v in headers.items():
        if k.lower() in SECRET_HEADERS:
            v = _mask(v)
        elif k.lower() == "location":
            v = _mask_query(v)
        lines.append(f"    {k}: {v}")
    return "\n".join(lines)


class Exchanges:
    """Remembers the last request `requests` sent and what came back."""

    def __init__(self) -> None:
        self.last: tuple | None = None
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        original = HTTPAdapter.send
        recorder = self

        def send(adapter, request, *args, **kwargs):
            recorder.last = (request, None, None)
            try:
                response = original(adapter, request, *args, **kwargs)
            except Exception as e:
                recorder.last = (request, None, e)
                raise
            recorder.last = (request, response, None)
            return response

        HTTPAdapter.send = send
        self._installed = True

    def forget(self) -> None:
        self.last = None

    def describe(self) -> str:
        if self.last is None:
            return "  (no HTTP exchange in this step)"
        request, response, error = self.last
        out = [
            "  last request:",
            f"    {request.method} {_mask_query(request.url)}",
            _mask_headers(request.headers),
            f"    body: {_mask_body(request.body, request.headers.get('Content-Type', ''))}",
        ]
        if error is not None:
            out.append(f"  no response: {type(error).__name__}: {error}")
        elif response is not None:
            out += [
                f"  roost's response: {response.status_code} {response.reason}",
                _mask_headers(response.headers),
                f"    body: {_mask_body(response.content, response.headers.get('Content-Type', ''))}",
            ]
        return "\n".join(out)


EXCHANGES = Exchanges()


@contextlib.contextmanager
def step(library: str, name: str):
    """Runs one journey step; any failure names the library, the step and the last exchange."""
    EXCHANGES.forget()
    try:
        yield
    except StepFailed:
        raise
    except Exception as e:
        raise StepFailed(
            f"{library}: step '{name}' failed: {type(e).__name__}: {e}\n{EXCHANGES.describe()}"
        ) from e


# --- roost, the process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
# Written by tests/clients/python/harness.py for one run of the client suite.
[content]
poll_interval_ms = 100   # the CLI writes while the server runs; see it at once

[log]
filter = "info"

# X's own API limits stay on, so the libraries see real x-rate-limit-* headers: user-token limits
# count per user and App and every journey has its own user, so the suite stays far below them.
# The token endpoint's limit per client is raised: every journey of one App shares it.
[rate_limits]
oauth_per_client = 100000
oauth_per_address = 100000
"""


class Roost:
    """One `roost serve` over a fresh database (SQLite, or PostgreSQL with ROOST_TEST_STORE=postgres:
    scripts/test-database-url), and the CLI on the same database."""

    def __init__(self) -> None:
        if not BIN.is_file():
            raise RuntimeError(
                f"no roost binary at {BIN}: run `cargo build --bin roost` or set ROOST_BIN"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="roost-clients-python-"))
        self.database_url = subprocess.run(
            [str(ROOT / "scripts" / "test-database-url"), str(self.dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.config = self.dir / "roost.toml"
        self.config.write_text(CONFIG)
        self.log_path = self.dir / "roost.log"
        self.process: subprocess.Popen | None = None
        self.base = ""

    def cli(self, *args: str) -> dict:
        cmd = [str(BIN), *args, "--database-url", self.database_url, "--config", str(self.config)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(
                f"`roost {' '.join(args)}` exited with {done.returncode}: {done.stderr.strip()}"
            )
        return json.loads(done.stdout)

    def start(self, *extra: str) -> None:
        """Starts `roost serve`; `extra` are more flags (e.g. `--clock manual`)."""
        for _ in range(3):
            port = free_port()
            self.base = f"http://127.0.0.1:{port}"
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [
                    str(BIN),
                    "serve",
                    "--addr",
                    f"127.0.0.1:{port}",
                    "--public-url",
                    self.base,
                    "--database-url",
                    self.database_url,
                    "--config",
                    str(self.config),
                    *extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            if self._wait_healthy():
                return
            self.stop()
        raise RuntimeError(f"roost did not start; its log:\n{self.log_tail()}")

    def _wait_healthy(self, seconds: float = 30.0) -> bool:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: the port may have been taken meanwhile
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- the world the journeys run in -------------------------------------------------------------


@dataclass
class App:
    kind: str  # "confidential" or "public"
    client_id: str
    client_secret: str | None
    api_key: str
    api_secret: str


@dataclass
class User:
    id: str
    username: str
    password: str


@dataclass
class World:
    base: str
    apps: dict[str, App]
    users: dict[str, User]  # by journey: "xdk-confidential", ...
    targets: list[dict]  # imported accounts; each journey user follows the first four
    tweet_id: str  # an imported tweet of targets[0]
    space_id: str  # an imported live Space of targets[0]
    unknown_username: str = "nobody_here_x"
    follows_at_start: int = 4
    extra: dict = field(default_factory=dict)


JOURNEYS = [f"{lib}-{kind}" for lib in ("xdk", "tweepy", "authlib") for kind in ("confidential", "public")]


def build_world(roost: Roost) -> World:
    apps = {}
    for kind in ("confidential", "public"):
        made = roost.cli(
            "apps", "create",
            "--name", f"Python {kind} client",
            "--project", "Python client suite",
            "--type", kind,
            "--callback", CALLBACK,
            "--json",
        )
        apps[kind] = App(
            kind=kind,
            client_id=made["client_id"],
            client_secret=made.get("client_secret"),
            api_key=made["api_key"],
            api_secret=made["api_secret"],
        )
    users = {}
    for journey in JOURNEYS:
        lib, kind = journey.split("-")
        username = f"{lib}_{kind[:4]}"
        password = secrets.token_urlsafe(18)
        made = roost.cli(
            "users", "create",
            "--username", username,
            "--name", f"{lib} {kind} journey",
            # `=`: a generated password may start with "-".
            f"--password={password}",
            "--json",
        )
        users[journey] = User(id=made["id"], username=made["username"], password=password)

    targets = [
        {
            "id": f"150000000000000010{i}",
            "username": f"py_target{i}",
            "name": f"Python Target {i}",
            "created_at": "2020-01-0%dT12:00:00.000Z" % i,
            "description": "An account the Python journeys follow.",
        }
        for i in range(1, 6)
    ]
    tweet_id = "1600000000000000201"
    space_id = "1PyTargetSpc1"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 600))
    data = {
        "users": targets,
        "tweets": [
            {
                "id": tweet_id,
                "text": "Hello from the Python client suite #roost",
                "author_id": targets[0]["id"],
                "created_at": "2026-01-02T03:04:05.000Z",
                "lang": "en",
            }
        ],
        "follows": [
            {"source_user_id": u.id, "target_user_id": t["id"]}
            for u in users.values()
            for t in targets[:4]
        ],
        "spaces": [
            {
                "id": space_id,
                "state": "live",
                "title": "Python clients office hours",
                "creator_id": targets[0]["id"],
                "host_ids": [targets[0]["id"]],
                "created_at": now,
                "started_at": now,
                "participant_count": 3,
            }
        ],
    }
    path = roost.dir / "import.json"
    path.write_text(json.dumps(data))
    roost.cli("import", str(path), "--json")
    world = World(
        base=roost.base,
        apps=apps,
        users=users,
        targets=targets,
        tweet_id=tweet_id,
        space_id=space_id,
    )
    _wait_for_import(world)
    return world


def _wait_for_import(world: World, seconds: float = 15.0) -> None:
    """The server reloads content another process wrote within its poll interval."""
    bearer = app_only_bearer(world.base, world.apps["confidential"])
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        r = requests.get(
            f"{world.base}/2/tweets/{world.tweet_id}",
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=5,
        )
        if r.status_code == 200 and "data" in r.json():
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not pick up the import")


# --- plain HTTP, where a library has no call -----------------------------------------------------


def app_only_bearer(base: str, app: App) -> str:
    """X's app-only Bearer Token: POST /oauth2/token with Basic API key:secret."""
    r = requests.post(
        f"{base}/oauth2/token",
        auth=(app.api_key, app.api_secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    r.raise_for_status()
    body = r.json()
    if body.get("token_type") != "bearer":
        raise AssertionError(f"token_type is {body.get('token_type')!r}")
    return body["access_token"]


def revoke(base: str, app: App, token: str, hint: str) -> None:
    """POST /2/oauth2/revoke as X documents it: Basic for a confidential App, client_id for a public one."""
    data = {"token": token, "token_type_hint": hint}
    auth = None
    if app.client_secret:
        auth = (app.client_id, app.client_secret)
    else:
        data["client_id"] = app.client_id
    r = requests.post(f"{base}/2/oauth2/revoke", data=data, auth=auth, timeout=10)
    r.raise_for_status()
    if r.json() != {"revoked": True}:
        raise AssertionError(f"revoke answered {r.text}")


# --- login and consent through roost's HTML forms ----------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]  # inputs with a name (hidden ones included)
    buttons: list[tuple[str, str]]  # (name, value) of named submit buttons


class FormParser(html.parser.HTMLParser):
    """Just enough HTML reading for roost's pages: forms, their inputs and buttons, alerts."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._in_form = False
        self._alert_depth = 0
        self.alert_text: list[str] = []

    @classmethod
    def parse(cls, text: str) -> list[Form]:
        p = cls()
        p.feed(text)
        return p.forms

    @classmethod
    def alerts(cls, text: str) -> list[str]:
        p = cls()
        p.feed(text)
        return [t for t in (s.strip() for s in p.alert_text) if t]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower(), {}, []))
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value") or ""
        elif tag == "button" and self._in_form and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value") or ""))
        if a.get("role") == "alert":
            self._alert_depth = 1
            self.alert_text.append("")
        elif self._alert_depth:
            self._alert_depth += 1

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        if self._alert_depth:
            self._alert_depth -= 1

    def handle_data(self, data):
        if self._alert_depth:
            self.alert_text[-1] += data


@dataclass
class Callback:
    url: str  # the whole redirect target, as a library's fetch_token wants it
    code: str
    state: str


def _origin(url: str) -> str:
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def sign_in_and_allow(library: str, authorize_url: str, user: User) -> Callback:
    """What a person does in a browser: open the URL, sign in, click Authorize app.

    A cookie jar carries the session from the login to the consent; each form is read and posted
    back whole (hidden inputs included), with the Origin a browser sends; the final redirect to
    the callback is read, not followed.
    """
    browser = requests.Session()
    origin = _origin(authorize_url)
    with step(library, "open the authorize URL and read the login form"):
        page = browser.get(authorize_url, timeout=10)
        if page.status_code != 200:
            raise AssertionError(f"the authorize page answered {page.status_code}")
        login = next((f for f in FormParser.parse(page.text) if "password" in f.fields), None)
        if login is None:
            raise AssertionError("no login form on the authorize page")
    with step(library, "sign in through the login form"):
        fields = dict(login.fields)
        fields.update(username=user.username, password=user.password)
        page = browser.post(
            urllib.parse.urljoin(page.url, login.action),
            data=fields,
            headers={"Origin": origin},
            timeout=30,
        )
        consent = next(
            (f for f in FormParser.parse(page.text) if ("decision", "allow") in f.buttons), None
        )
        if page.status_code != 200 or consent is None:
            raise AssertionError(f"no consent form after signing in (status {page.status_code})")
    with step(library, "allow on the consent form"):
        fields = dict(consent.fields)
        fields["decision"] = "allow"
        answer = browser.post(
            urllib.parse.urljoin(page.url, consent.action),
            data=fields,
            headers={"Origin": origin},
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code not in (302, 303):
            raise AssertionError(f"consent answered {answer.status_code}, not a redirect")
        location = answer.headers["Location"]
        if not location.startswith(CALLBACK + "?"):
            raise AssertionError(f"redirected to {_mask_query(location)}, not the callback")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        if "error" in query:
            raise AssertionError(f"the callback carries error={query['error']}")
        return Callback(url=location, code=query["code"][0], state=query["state"][0])


def state_of(url: str) -> str:
    """The `state` a library put into the authorize URL it built."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
