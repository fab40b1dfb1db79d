"""pytest wiring: one roost for the whole run, its world, and its log on every failure."""

import os
import shutil

# roost runs on plain http on loopback; oauthlib (under tweepy and xdk) and authlib refuse
# http without these.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

import pytest  # noqa: E402

import harness  # noqa: E402

_server: harness.Roost | None = None


@pytest.fixture(scope="session")
def roost():
    global _server
    harness.EXCHANGES.install()
    server = harness.Roost()
    _server = server
    try:
        server.start()
        yield server
    finally:
        server.stop()
        kept = harness.ROOT / "target" / "clients" / "roost-python.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        if server.log_path.exists():
            shutil.copyfile(server.log_path, kept)
        shutil.rmtree(server.dir, ignore_errors=True)
        _server = None


@pytest.fixture(scope="session")
def world(roost):
    return harness.build_world(roost)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _server is not None:
        report.sections.append(("roost's log (last lines)", _server.log_tail()))
