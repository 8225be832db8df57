"""``http_url``: what messages show of a URL."""

from __future__ import annotations

import pytest

from perf_pipeline.http_url import shown_url, shown_webhook_url


@pytest.mark.parametrize(("url", "shown"), [
    ("http://[::1]:8080/api/v3?t=1", "http://[::1]:8080/api/v3"),
    ("https://user:pw@[2001:db8::1]/api/v3", "https://[2001:db8::1]/api/v3"),
    ("https://ghe.example:8443/api/v3", "https://ghe.example:8443/api/v3"),
])
def test_an_ipv6_host_keeps_its_brackets(url: str, shown: str) -> None:
    """An IPv6 literal was shown bare (``http://::1:8080/api/v3``): the port read as part
    of the address, and the text was no longer a URL."""
    assert shown_url(url) == shown


def test_an_ipv6_webhook_host_keeps_its_brackets() -> None:
    assert (shown_webhook_url("https://[2001:db8::1]:9000/services/T1/B1/secret")
            == "https://[2001:db8::1]:9000/services/…")
