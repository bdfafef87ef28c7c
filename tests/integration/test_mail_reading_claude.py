"""Claude's extraction help on hand-written mail, against the loopback Messages API (tests/fakes)."""

from pathlib import Path

import pytest

from connectors.mail import read_message_file
from models.assist import assist_extraction, needs_assist
from models.claude import ClaudeClient, ClaudeConfig
from models.mail_reading import read_message
from tests.fakes.anthropic_server import FakeAnthropic

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parent.parent / "data" / "mail" / "labelled"


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def client(fake, monkeypatch):
    fake.reset()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-real")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    c = ClaudeClient.from_env(ClaudeConfig(backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=5.0, max_retries=2))
    yield c
    c.close()


def _help(name: str, client):
    msg = read_message_file(CORPUS / name)
    reading = read_message(msg)
    merged, record = assist_extraction(reading.fields, msg.subject, msg.text, client, received_at=msg.date,
                                       sender_name=msg.sender_name)
    return reading.fields, merged, record


def test_a_first_notice_without_a_claim_number_asks_claude_and_keeps_what_validates(fake, client):
    rules, merged, record = _help("fr_02_accrochage_hier.eml", client)
    assert rules.claim_number is None and needs_assist(rules)
    assert record.called and len(fake.message_requests()) == 1
    # Nothing made up: no claim number is in the mail, so none enters; the rules' confident fields stand.
    assert merged.claim_number is None
    assert merged.policy_number == rules.policy_number and merged.provenance["policy_number"] == "rules"


def test_a_policy_number_only_in_instruction_text_never_wins_through_claude_either(client):
    rules, merged, record = _help("en_06_injection_portal.eml", client)
    assert merged.policy_number == rules.policy_number != "POL-9999999"
    assert record.injection_signals  # the claim still goes to a person


def test_the_request_that_leaves_is_redacted(fake, client):
    _help("en_09_son_for_mother.eml", client)
    [req] = fake.message_requests()
    sent = req.raw.decode("utf-8", "replace")
    assert "dan.okafor.dev@protonmail.com" not in sent and "0113 496 0721" not in sent
