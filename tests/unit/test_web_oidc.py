"""OIDC sign-in against a loopback OpenID provider (tests/fakes/oidc_issuer.py): code flow with PKCE,
a verified RS256 ID token, and roles still from Claimflow's identity store."""

from __future__ import annotations

import urllib.request

import pytest
from fastapi.testclient import TestClient

from connectors.audit import AuditLog
from orchestration.web.app import create_app
from orchestration.web.oidc import OidcClient
from tests.fakes.oidc_issuer import FakeIssuer
from tests.fakes.workspace import build_workspace, web_config

HTML = {"accept": "text/html"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def provider_answer(client: TestClient) -> str:
    """Start the sign-in in the workspace, let the provider answer; the callback path it sends back."""
    start = client.get("/auth/oidc?next=/review", follow_redirects=False)
    assert start.status_code == 303
    try:
        urllib.request.build_opener(_NoRedirect).open(start.headers["location"], timeout=10)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        return redirect.headers["Location"].removeprefix("http://testserver")
    raise AssertionError("the provider did not redirect back")


@pytest.fixture
def issuer():
    with FakeIssuer(client_id="claimflow-web") as fake:
        yield fake


@pytest.fixture
def app(tmp_path, issuer):
    world = build_workspace(tmp_path / "home")
    oidc = OidcClient(issuer.url, "claimflow-web", "s3cret", "http://testserver/auth/callback")
    return create_app(web_config(world, oidc=oidc)), world


def test_an_oidc_sign_in_links_the_identity_and_acts_with_claimflow_roles(app, issuer):
    app, world = app
    client = TestClient(app)
    callback = provider_answer(client)
    signed_in = client.get(callback, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/review"
    assert client.get("/review", headers=HTML).status_code == 200
    assert app.state.identity.user_for_oidc("00u-ana", "").username == "hana.handler"
    logins = [(e.actor, e.payload) for e in AuditLog(world["sor_url"]).entries(action="user.login")]
    assert logins == [("hana.handler", {"method": "oidc"})]


def test_a_forged_id_token_is_refused(app, issuer):
    app, _ = app
    issuer.forge = True
    client = TestClient(app)
    refused = client.get(provider_answer(client), headers=HTML)
    assert refused.status_code == 401 and "signature is not the identity provider" in refused.text
    assert client.get("/review", headers=HTML, follow_redirects=False).status_code == 303


def test_an_identity_without_a_claimflow_user_is_refused(app, issuer):
    app, _ = app
    issuer.subject, issuer.username = "00u-stranger", "stranger"
    client = TestClient(app)
    refused = client.get(provider_answer(client), headers=HTML)
    assert refused.status_code == 401 and "no active Claimflow user" in refused.text


def test_an_answer_for_another_browser_session_is_refused(app, issuer):
    app, _ = app
    callback = provider_answer(TestClient(app))
    other = TestClient(app)  # a different browser replays the callback
    refused = other.get(callback, headers=HTML)
    assert refused.status_code == 401 and "state mismatch" in refused.text
