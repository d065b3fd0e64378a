"""Reading an ``avepoint`` connection into settings: environment presets and clear errors."""

from __future__ import annotations

import pytest

from avepoint_provider.errors import AvePointConfigError
from avepoint_provider.hooks.avepoint import AvePointHook
from tests.conftest import FAKE_GRAPH, set_connection


def test_environment_presets_fill_in_urls_and_stay_overridable(fake_avepoint):
    fake_avepoint.make_hook(host="", extra={"environment": "gov", "token_url": ""})
    settings = AvePointHook("avepoint_fake").settings
    assert settings.graph_url == "https://graph-gov.avepointonlineservices.com"
    assert settings.token_url == "https://identity-gov.avepointonlineservices.com/connect/token"
    assert settings.environment.data_center_family == "gov"

    fake_avepoint.make_hook(host="https://graph-us.example", extra={"environment": "fedramp"})
    settings = AvePointHook("avepoint_fake").settings
    assert settings.graph_url == "https://graph-us.example"
    assert settings.token_url == "http://avepoint.test/connect/token"


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"extra": {"environment": "moon"}}, "'environment' must be one of"),
        ({"login": ""}, "client id"),
        ({"password": ""}, "client secret"),
        ({"extra": {"timeout": "soon"}}, "'timeout' must be a positive number"),
        ({"extra": {"private_key": "not a key"}}, "not PEM text"),
        ({"host": "ftp://x"}, "not an http"),
        ({"extra": {"token_url": "https://identity.example:port/connect/token"}}, "not an http"),
        ({"extra": {"verify": "/no/such/ca.pem"}}, "'verify' is not a readable file"),
        ({"extra": {"cert": "/no/such/client.pem"}}, "'cert' is not a readable file"),
        ({"extra": {"proxies": "http://proxy:3128"}}, "'proxies' must be an object"),
    ],
)
def test_bad_connections_get_clear_errors(monkeypatch, conn, message):
    fields = {
        "conn_type": "avepoint",
        "host": FAKE_GRAPH,
        "login": "client-id-1",
        "password": "client-secret-value-1",
        "extra": {"token_url": f"{FAKE_GRAPH}/connect/token"} | conn.get("extra", {}),
    } | {k: v for k, v in conn.items() if k != "extra"}
    set_connection(monkeypatch, "avepoint_bad", **fields)
    with pytest.raises(AvePointConfigError, match=message):
        AvePointHook("avepoint_bad").settings  # noqa: B018
