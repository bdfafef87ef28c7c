"""The workspace's API boundaries with FastAPI's TestClient: roles, sessions, CSRF, safe e-mail, logs."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from connectors.audit import AuditLog
from orchestration.web.app import SESSION_COOKIE, create_app
from orchestration.web.security import LoginLimiter, safe_next, sanitize_email_html
from tests.fakes.workspace import (
    FRAUD,
    HELD,
    HOSTILE_HTML,
    PASSWORD,
    REUSED_FROM,
    build_workspace,
    web_config,
)

HTML = {"accept": "text/html"}


@pytest.fixture
def world(tmp_path):
    return build_workspace(tmp_path / "home")


@pytest.fixture
def app(world):
    return create_app(web_config(world))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, username: str) -> TestClient:
    client = TestClient(app, base_url="http://127.0.0.1")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token,
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, path: str, data: dict | None = None, page: str = "/account"):
    """Post like the page's form does: with the session's CSRF token."""
    token = csrf_of(client.get(page, headers=HTML).text)
    return client.post(path, data={**(data or {}), "csrf_token": token}, headers=HTML, follow_redirects=False)


def test_an_anonymous_page_redirects_to_sign_in_and_an_api_call_gets_401(app):
    client = TestClient(app)
    page = client.get("/review", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/review"
    assert client.get("/review").status_code == 401
    assert client.post(f"/review/{HELD}/claim").status_code == 401


def test_the_session_cookie_is_http_only_same_site_strict_and_secure_behind_https(world):
    client = TestClient(create_app(web_config(world, https=True)), base_url="https://127.0.0.1")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": "hana.handler", "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert SESSION_COOKIE in cookie and "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_a_wrong_password_fails_and_repeated_failures_are_rate_limited(app):
    client = TestClient(app)
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        bad = client.post("/login", data={"username": "rene.reviewer", "password": "nope", "csrf_token": token})
        assert bad.status_code == 401 and "unknown user or wrong password" in bad.text
    token = csrf_of(client.get("/login").text)
    # Even the right password waits once the limit is reached: a guesser cannot tell.
    limited = client.post("/login", data={"username": "rene.reviewer", "password": PASSWORD, "csrf_token": token})
    assert limited.status_code == 429 and "too many failed sign-ins" in limited.text


def test_a_forged_form_without_the_csrf_token_fails(app):
    client = signed_in(app, "hana.handler")
    forged = client.post(f"/review/{HELD}/claim", headers=HTML, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = client.post(f"/review/{HELD}/claim", data={"csrf_token": "guess"}, headers=HTML, follow_redirects=False)
    assert wrong.status_code == 403
    # A login form posted from elsewhere (no session, no token) is refused too.
    assert TestClient(app).post("/login", data={"username": "hana.handler", "password": PASSWORD}).status_code == 403
    assert app.state.queue.show(HELD)["status"] == "waiting"


def test_a_handler_cannot_approve_a_model(app):
    client = signed_in(app, "hana.handler")
    response = post(client, "/models/1/decision", {"decision": "approve", "reason": "looks fine"})
    assert response.status_code == 403 and "may not approve or reject models" in response.text
    assert client.get("/models", headers=HTML).status_code == 403
    assert client.get("/monitoring", headers=HTML).status_code == 403
    assert client.get("/users", headers=HTML).status_code == 403


def test_a_risk_officer_reads_the_queue_but_cannot_decide(app):
    client = signed_in(app, "rita.risk")
    assert client.get(f"/review/{HELD}", headers=HTML).status_code == 200
    assert post(client, f"/review/{HELD}/claim").status_code == 403


def test_a_reviewer_decides_an_item_end_to_end_as_themselves(app, world):
    client = signed_in(app, "rene.reviewer")
    assert post(client, f"/review/{HELD}/claim").status_code == 303
    page = client.get(f"/review/{HELD}", headers=HTML).text
    assert 'id="claimed-by">rene.reviewer<' in page
    empty = post(client, f"/review/{HELD}/decide", {"action": "approve", "reason": "  "})
    assert "an approve needs a reason" in client.get(empty.headers["location"], headers=HTML).text
    # A name typed into the form changes nothing: the decision is the signed-in user's.
    done = post(client, f"/review/{HELD}/decide", {"action": "override", "queue": "specialist",
                                                   "reason": "two cars involved", "reviewer": "mallory.x"})
    assert done.status_code == 303 and "err=" not in done.headers["location"]
    item = app.state.queue.show(HELD)
    assert (item["status"], item["decided_by"], item["final_queue"]) == ("decided", "rene.reviewer", "specialist")
    actions = [(e.actor, e.action) for e in AuditLog(world["sor_url"]).entries(subject=HELD)]
    assert actions == [("rene.reviewer", "review.claim"), ("rene.reviewer", "review.decide")]


def test_a_reviewer_cannot_decide_an_item_claimed_by_another(app):
    hana = signed_in(app, "hana.handler")
    post(hana, f"/review/{HELD}/claim")
    rene = signed_in(app, "rene.reviewer")
    page = rene.get(f"/review/{HELD}", headers=HTML).text
    assert 'id="not-yours"' in page and 'id="decide-form"' not in page
    refused = post(rene, f"/review/{HELD}/decide", {"action": "approve", "reason": "mine now"})
    assert "claimed by hana.handler, not rene.reviewer" in rene.get(refused.headers["location"], headers=HTML).text
    assert app.state.queue.show(HELD)["status"] == "claimed"


def test_the_decision_view_shows_what_a_reviewer_needs(app):
    client = signed_in(app, "hana.handler")
    page = client.get(f"/review/{HELD}", headers=HTML).text
    unsure = re.search(r'<tr class="unsure" id="unsure-field">\s*<th>(.*?)<', page).group(1)
    assert unsure.strip() == "policy number"
    assert "42%" in page and "7 %" in page and "model version 3" in page and "0.0686577" not in page
    assert "Rear-ended at a red light" in page and "Dear customer" in page
    assert "active at the incident date" in page
    fraud = client.get(f"/review/{FRAUD}", headers=HTML).text
    assert "Julien Mercier" in fraud and ">H02<" not in fraud  # the handler by name, not by id
    assert f"already used on <a href=\"/audit?claim={REUSED_FROM}\">{REUSED_FROM}</a>" in fraud
    photo = re.search(r'<img src="(/photos/[^"]+)"', fraud).group(1)
    assert client.get(photo).headers["content-type"] == "image/jpeg"


def test_hostile_email_html_is_escaped_and_remote_content_blocked(app):
    client = signed_in(app, "hana.handler")
    page = client.get(f"/review/{HELD}", headers=HTML)
    body = re.search(r'<div class="email" id="email-body">(.*?)</div>', page.text, re.DOTALL).group(1)
    assert "Hello, my car was hit." in body and "<b>POL-1234567</b>" in body
    for hostile in ("<script", "pwned", "tracker.example", "onclick", "javascript:", "<iframe", "evil.example"):
        assert hostile not in body
    assert "2 remote image(s) or frame(s) blocked" in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in policy and "script-src 'self'" in policy


def test_the_sanitiser_alone_keeps_text_and_drops_everything_active():
    safe, blocked = sanitize_email_html(HOSTILE_HTML + '<img src="//cdn.example/x.png"><style>p{}</style>')
    assert blocked == 3 and "<img" not in safe and "<style" not in safe and "Hello" in safe


def test_no_personal_data_in_the_workspace_logs(app, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in(app, "hana.handler")
    client.get(f"/review/{HELD}", headers=HTML)
    post(client, f"/review/{HELD}/claim")
    logged = caplog.text
    assert f"GET /review/{HELD} 200" in logged  # the log is there, and it says what happened
    for personal in ("jean.dupont", "Jean Dupont", "POL-1234567", "Rear-ended", PASSWORD):
        assert personal not in logged


def test_disabling_a_user_ends_their_session(app):
    client = signed_in(app, "hana.handler")
    assert client.get("/review", headers=HTML).status_code == 200
    app.state.identity.disable("hana.handler")
    response = client.get("/review", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_logout_needs_the_csrf_token_and_ends_the_session(app):
    client = signed_in(app, "rene.reviewer")
    assert client.post("/logout", headers=HTML, follow_redirects=False).status_code == 403
    assert post(client, "/logout", page="/review").status_code == 303
    assert client.get("/review", headers=HTML, follow_redirects=False).status_code == 303


def test_a_bearer_token_acts_as_its_owner_without_a_session(app, world):
    client = TestClient(app)
    auth = {"authorization": f"Bearer {world['tokens']['hana.handler']}"}
    assert client.post(f"/review/{HELD}/claim", headers=auth, follow_redirects=False).status_code == 303
    assert app.state.queue.show(HELD)["claimed_by"] == "hana.handler"
    assert client.get("/review", headers={"authorization": "Bearer cfu_forged"}).status_code == 401


def test_an_admin_adds_and_disables_users_and_everything_is_audited(app, world):
    client = signed_in(app, "adam.admin")
    added = post(client, "/users", {"username": "nina.new", "display_name": "Nina", "roles": "reviewer",
                                    "password": "another long password"}, page="/users")
    assert "msg=added+nina.new" in added.headers["location"]
    assert post(client, "/users/nina.new/disable", page="/users").status_code == 303
    entries = [(e.actor, e.action, e.subject) for e in AuditLog(world["sor_url"]).entries()
               if e.action.startswith("user.")]
    assert ("adam.admin", "user.add", "nina.new") in entries and ("adam.admin", "user.disable", "nina.new") in entries
    assert ("adam.admin", "user.login", "adam.admin") in entries


def test_the_audit_page_shows_a_claims_timeline_and_the_chain_status(app):
    client = signed_in(app, "rene.reviewer")
    post(client, f"/review/{HELD}/claim")
    page = client.get(f"/audit?claim={HELD}", headers=HTML).text
    assert "Chain intact" in page and "review.claim" in page and "rene.reviewer" in page


def test_a_reviewer_corrects_the_unsure_field_with_a_reason(app):
    client = signed_in(app, "hana.handler")
    post(client, f"/review/{HELD}/claim")
    post(client, f"/review/{HELD}/correct", {"field": "policy_number", "value": "POL-7654321", "reason": ""})
    assert app.state.queue.corrections(HELD) == []
    post(client, f"/review/{HELD}/correct", {"field": "policy_number", "value": "POL-7654321",
                                             "reason": "the scan shows 765"})
    page = client.get(f"/review/{HELD}", headers=HTML).text
    assert "policy number → <b>POL-7654321</b> by hana.handler" in page


def test_the_login_limiter_forgets_after_the_window():
    now = [0.0]
    limiter = LoginLimiter(attempts=2, window=60, clock=lambda: now[0])
    limiter.failed("u")
    limiter.failed("u")
    assert limiter.retry_after("u") == 60
    now[0] = 61
    assert limiter.retry_after("u") == 0


@pytest.mark.parametrize("target, expected", [("/review", "/review"), ("//evil.example", "/"),
                                              ("https://evil.example", "/"), ("/\\evil", "/"), (None, "/")])
def test_only_local_paths_are_followed_after_sign_in(target, expected):
    assert safe_next(target) == expected
