"""The client IP the send limits are keyed on (django_textlink.verification.clientip)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.test import RequestFactory

from django_textlink.verification import clientip
from django_textlink.verification.clientip import UNKNOWN_CLIENT, client_ip, client_ip_key

PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48"]


@pytest.fixture
def trusted(settings: Any) -> list[str]:
    settings.TEXTLINK = {**settings.TEXTLINK, "TRUSTED_PROXIES": PROXIES}
    return PROXIES


def request(remote: str | None = "203.0.113.7", forwarded: str | None = None) -> Any:
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    req = RequestFactory().post("/verify/", **extra)
    if remote is None:
        del req.META["REMOTE_ADDR"]
    else:
        req.META["REMOTE_ADDR"] = remote
    return req


def ip(value: str) -> Any:
    return ipaddress.ip_address(value)


# -- without trusted proxies: REMOTE_ADDR only -------------------------------------------------


def test_remote_addr_by_default() -> None:
    assert client_ip(request("203.0.113.7")) == ip("203.0.113.7")
    assert client_ip_key(request("203.0.113.7")) == "203.0.113.7"


@pytest.mark.parametrize(
    "forwarded", ["198.51.100.1", "198.51.100.1, 198.51.100.2", "garbage", "2001:db8::1"]
)
def test_x_forwarded_for_is_ignored_without_trusted_proxies(forwarded: str) -> None:
    req = request("203.0.113.7", forwarded)
    assert client_ip(req) == ip("203.0.113.7")
    assert client_ip_key(req) == "203.0.113.7"


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(trusted: list[str]) -> None:
    """A client talking to the site directly cannot pick its key with the header."""
    for forwarded in ("198.51.100.1", "10.0.0.9", "198.51.100.1, 10.0.0.5"):
        req = request("203.0.113.7", forwarded)
        assert client_ip(req) == ip("203.0.113.7"), forwarded


def test_rotating_x_forwarded_for_does_not_change_the_key() -> None:
    keys = {client_ip_key(request("203.0.113.7", f"198.51.100.{n}")) for n in range(20)}
    assert keys == {"203.0.113.7"}


# -- behind trusted proxies ----------------------------------------------------------------


def test_trusted_proxy_uses_the_forwarded_client(trusted: list[str]) -> None:
    req = request("10.0.0.1", "203.0.113.9")
    assert client_ip(req) == ip("203.0.113.9")
    assert client_ip_key(req) == "203.0.113.9"


def test_rightmost_untrusted_hop_is_the_client(trusted: list[str]) -> None:
    """Hops appended by our own proxies are skipped; the first other address is the client."""
    req = request("10.0.0.1", "203.0.113.9, 10.0.0.7, 192.0.2.1")
    assert client_ip(req) == ip("203.0.113.9")


def test_spoofed_left_entries_are_ignored(trusted: list[str]) -> None:
    """Everything left of the client's real address is whatever the client sent."""
    for spoofed in ("1.1.1.1", "1.1.1.1, 8.8.8.8", "10.0.0.3", "garbage, 1.1.1.1"):
        req = request("10.0.0.1", f"{spoofed}, 203.0.113.9")
        assert client_ip(req) == ip("203.0.113.9"), spoofed
        assert client_ip_key(req) == "203.0.113.9"


def test_rotating_spoofed_entries_do_not_change_the_key(trusted: list[str]) -> None:
    keys = {client_ip_key(request("10.0.0.1", f"198.51.100.{n}, 203.0.113.9")) for n in range(20)}
    assert keys == {"203.0.113.9"}


def test_ipv6_proxy_network(trusted: list[str]) -> None:
    req = request("2001:db8:ffff:1::2", "2001:db8:5:6::7")
    assert client_ip(req) == ip("2001:db8:5:6::7")
    assert client_ip_key(req) == "2001:db8:5:6::/64"


@pytest.mark.parametrize("forwarded", ["", " ", ",", " , "])
def test_empty_x_forwarded_for_from_a_proxy_falls_back_to_the_proxy(
    trusted: list[str], forwarded: str
) -> None:
    assert client_ip(request("10.0.0.1", forwarded)) == ip("10.0.0.1")


def test_missing_x_forwarded_for_from_a_proxy_falls_back_to_the_proxy(trusted: list[str]) -> None:
    assert client_ip(request("10.0.0.1")) == ip("10.0.0.1")


def test_only_trusted_hops_falls_back_to_remote_addr(trusted: list[str]) -> None:
    assert client_ip(request("10.0.0.1", "10.0.0.2, 192.0.2.1")) == ip("10.0.0.1")


def test_blank_entries_are_skipped(trusted: list[str]) -> None:
    req = request("10.0.0.1", " 203.0.113.9 , , 10.0.0.2 ,")
    assert client_ip(req) == ip("203.0.113.9")


@pytest.mark.parametrize(
    "forwarded",
    [
        "203.0.113.9, not-an-ip",
        "203.0.113.9, 999.1.1.1",
        "203.0.113.9, 203.0.113.10:8080",
        "203.0.113.9, unknown",
        "203.0.113.9, 10.0.0.2, <script>",
    ],
)
def test_malformed_hop_on_the_trusted_side_trusts_nothing_left_of_it(
    trusted: list[str], forwarded: str
) -> None:
    """Past a hop that cannot be read, the chain cannot be followed: the proxy is the key
    (never the client-chosen address to the left)."""
    req = request("10.0.0.1", forwarded)
    assert client_ip(req) == ip("10.0.0.1")
    assert client_ip_key(req) == "10.0.0.1"


def test_a_single_trusted_address_is_accepted_as_a_string(settings: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "TRUSTED_PROXIES": "10.0.0.1"}
    assert client_ip(request("10.0.0.1", "203.0.113.9")) == ip("203.0.113.9")
    assert client_ip(request("10.0.0.2", "203.0.113.9")) == ip("10.0.0.2")


# -- IPv6 ----------------------------------------------------------------------------------


def test_ipv6_is_keyed_on_its_64() -> None:
    first = client_ip_key(request("2001:db8:1:2::5"))
    same_64 = client_ip_key(request("2001:db8:1:2:ffff:eeee:dddd:cccc"))
    other_64 = client_ip_key(request("2001:db8:1:3::5"))
    assert first == "2001:db8:1:2::/64"
    assert same_64 == first
    assert other_64 == "2001:db8:1:3::/64"
    assert other_64 != first


def test_ipv6_spellings_of_one_address_share_the_key() -> None:
    assert client_ip_key(request("2001:DB8:1:2::5")) == client_ip_key(
        request("2001:0db8:0001:0002:0000:0000:0000:0005")
    )


def test_ipv6_client_ip_keeps_the_full_address() -> None:
    assert client_ip(request("2001:db8:1:2::5")) == ip("2001:db8:1:2::5")


def test_ipv4_mapped_ipv6_is_keyed_as_ipv4() -> None:
    """A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: same key as plain IPv4,
    and not the shared ::ffff:0:0/64 that would lump every IPv4 client together."""
    assert client_ip(request("::ffff:203.0.113.7")) == ip("203.0.113.7")
    assert client_ip_key(request("::ffff:203.0.113.7")) == "203.0.113.7"
    assert client_ip_key(request("::ffff:203.0.113.8")) == "203.0.113.8"


def test_ipv4_mapped_proxy_address_is_trusted(trusted: list[str]) -> None:
    """Behind a dual-stack listener the proxy 10.0.0.1 shows up as ::ffff:10.0.0.1; it
    must still be recognised, or every client would share the proxy's key."""
    req = request("::ffff:10.0.0.1", "203.0.113.9")
    assert client_ip_key(req) == "203.0.113.9"


def test_ipv4_mapped_forwarded_hops(trusted: list[str]) -> None:
    req = request("10.0.0.1", "203.0.113.9, ::ffff:10.0.0.2")
    assert client_ip_key(req) == "203.0.113.9"
    req = request("10.0.0.1", "::ffff:203.0.113.9")
    assert client_ip_key(req) == "203.0.113.9"


def test_ipv6_link_local_with_zone() -> None:
    key = client_ip_key(request("fe80::1%eth0"))
    assert key is not None
    assert key.startswith("fe80::")


# -- no usable address -----------------------------------------------------------------------


def test_missing_remote_addr_shares_the_unknown_bucket() -> None:
    req = request(None)
    assert client_ip(req) is None
    assert client_ip_key(req) == UNKNOWN_CLIENT


@pytest.mark.parametrize("remote", ["", "unknown", "203.0.113", "::gggg", "203.0.113.7:5000"])
def test_malformed_remote_addr_shares_the_unknown_bucket(remote: str) -> None:
    assert client_ip(request(remote)) is None
    assert client_ip_key(request(remote)) == UNKNOWN_CLIENT


def test_missing_remote_addr_with_trusted_proxies_ignores_the_header(trusted: list[str]) -> None:
    # Only "unix" trusts a peer without an address: the header could come from anyone.
    assert client_ip_key(request(None, "203.0.113.9")) == UNKNOWN_CLIENT
    assert client_ip_key(request("", "203.0.113.9")) == UNKNOWN_CLIENT


@pytest.fixture
def unix_peer(settings: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, "TRUSTED_PROXIES": ["unix", "10.0.0.0/8"]}


@pytest.mark.parametrize("remote", [None, ""])
def test_a_trusted_unix_socket_peer_names_the_client(unix_peer: None, remote: str | None) -> None:
    assert client_ip_key(request(remote, "203.0.113.9")) == "203.0.113.9"
    # The rightmost untrusted hop, as behind IP proxies: spoofed entries on the left
    # change nothing.
    assert client_ip_key(request(remote, "198.51.100.1, 203.0.113.9")) == "203.0.113.9"
    assert client_ip_key(request(remote, "203.0.113.9, 10.1.2.3")) == "203.0.113.9"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-ip", "10.0.0.1"])
def test_a_unix_socket_peer_without_a_client_shares_the_unknown_bucket(
    unix_peer: None, forwarded: str | None
) -> None:
    assert client_ip_key(request("", forwarded)) == UNKNOWN_CLIENT


def test_unix_does_not_trust_peers_with_an_address(unix_peer: None) -> None:
    assert client_ip_key(request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_the_unknown_bucket_is_logged_once(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    monkeypatch.setattr(clientip, "_warned", False)
    with caplog.at_level("WARNING", logger="django_textlink.clientip"):
        client_ip_key(request(""))
        client_ip_key(request(None))
    warnings = [r for r in caplog.records if r.name == "django_textlink.clientip"]
    assert len(warnings) == 1
    assert "TRUSTED_PROXIES" in warnings[0].getMessage()
    assert "unix" in warnings[0].getMessage()


def test_no_request_gives_none() -> None:
    assert client_ip_key(None) is None
