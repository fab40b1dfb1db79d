#!/usr/bin/env python3
"""Reads wrk --latency output on stdin; prints "rps p50_ms p99_ms non2xx_or_errors"."""
import re
import sys

out = sys.stdin.read()


def ms(label):
    m = re.search(r"^\s+" + re.escape(label) + r"\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        sys.exit(f"parse_wrk: no {label} latency in:\n{out}")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
if not rps:
    sys.exit(f"parse_wrk: no Requests/sec in:\n{out}")
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
failures = int(bad.group(1)) if bad else 0
if errors:
    failures += sum(int(x) for x in errors.groups())
print(f"{float(rps.group(1)):.0f} {ms('50%'):.2f} {ms('99%'):.2f} {failures}")
