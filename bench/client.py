"""Benchmark: TextLinkClient (pooled keep-alive) against a new connection per call.

TextLink's official Python package calls ``requests.post`` for every message: a new TCP
connection (and, against the real API, a new TLS handshake) each time. This sends the
same N messages both ways to the TextLink sandbox (``django_textlink.sandbox.run_sandbox``,
in a thread of this process), alternating the two several times, and prints both rates
and their ratio: once over plain HTTP (the least favourable case for pooling) and once
over HTTPS (``run_sandbox(tls=True)``), as TextLink serves. The sandbox also counts the
TCP connections that carried API calls, which shows the pooling at work. Only the ratios
are meaningful: machines here are shared and noisy.

    python bench/client.py [--messages 1000] [--rounds 3] [--delay 0] [--no-tls]

Target: TextLinkClient at least 1.5x the per-call loop's rate (plain HTTP).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from django_textlink.client import TextLinkClient
from django_textlink.sandbox import run_sandbox

API_KEY = "bench-key"
TARGET_RATIO = 1.5


def per_call_loop(base_url: str, messages: int, verify: str | bool = True) -> float:
    """What TextLink's official package does: requests.post, new connection each call."""
    started = time.perf_counter()
    for i in range(messages):
        response = requests.post(
            f"{base_url}/send-sms",
            json={"phone_number": "+12025550143", "text": f"Message {i}"},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
            verify=verify,
        )
        assert response.json()["ok"] is True
    return messages / (time.perf_counter() - started)


def pooled_client(base_url: str, messages: int, verify: str | bool = True) -> float:
    with TextLinkClient(api_key=API_KEY, base_url=base_url, verify=verify) as client:
        started = time.perf_counter()
        for i in range(messages):
            client.send_sms("+12025550143", f"Message {i}")
        return messages / (time.perf_counter() - started)


def measure(label: str, messages: int, rounds: int, delay: float, tls: bool) -> float:
    with run_sandbox(latency=delay, api_key=API_KEY, tls=tls) as server:
        verify: str | bool = server.cafile or True
        # Warm up both paths (imports, server threads) before measuring.
        per_call_loop(server.base_url, 20, verify)
        pooled_client(server.base_url, 20, verify)
        baseline: list[float] = []
        ours: list[float] = []
        for _ in range(rounds):
            baseline.append(per_call_loop(server.base_url, messages, verify))
            ours.append(pooled_client(server.base_url, messages, verify))
        connections_before = server.api_connections
        pooled_client(server.base_url, 50, verify)
        pooled_connections = server.api_connections - connections_before

    base_rate = statistics.median(baseline)
    our_rate = statistics.median(ours)
    ratio = our_rate / base_rate
    print(f"[{label}]")
    print(f"  requests.post per call (new connection): {base_rate:10.1f} msg/s")
    print(f"  TextLinkClient (pooled keep-alive):      {our_rate:10.1f} msg/s")
    print(f"  TCP connections for 50 pooled sends:     {pooled_connections:10d}")
    print(f"  ratio: {ratio:.2f}x")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    parser.add_argument("--delay", type=float, default=0.0, help="server answer delay (s)")
    parser.add_argument("--no-tls", action="store_true", help="skip the HTTPS measurement")
    args = parser.parse_args(argv)

    print(f"messages per measurement: {args.messages}, rounds: {args.rounds}, delay: {args.delay}s")
    ratio = measure("plain HTTP", args.messages, args.rounds, args.delay, tls=False)
    if not args.no_tls:
        measure("HTTPS, as TextLink serves", args.messages, args.rounds, args.delay, tls=True)
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"plain HTTP ratio: {ratio:.2f}x (target >= {TARGET_RATIO}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
