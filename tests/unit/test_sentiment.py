"""Sentiment: VADER for English, Claude batches for the rest when a key is set (redacted, costed), else unscored."""

from __future__ import annotations

from models.batches import BatchConfig
from models.sentiment import is_ambiguous, label_of, score_posts, vader_compound
from tests.fakes.anthropic_server import FakeAnthropic, leaked, seeded_patterns

FAST = BatchConfig(poll_interval_s=0.01, max_poll_interval_s=0.01, max_wait_s=5)


def test_vader_reads_direction_and_intensity():
    assert vader_compound("Claimflow sorted my claim in two days, great service!") > 0.5
    assert vader_compound("Claimflow refused my claim, shameful and awful") < -0.5
    assert label_of(0.0) == "neutral" and label_of(-0.3) == "negative"
    assert is_ambiguous("the adjuster came today and we went through the whole file of the car with him", 0.0)


def test_without_a_key_other_languages_stay_unscored():
    out = score_posts([(1, "en", "I love this"), (2, "fr", "Sinistre refusé, honteux"), (3, "de", "Super Service")])
    assert [s.scored_by for s in out] == ["vader", "unscored", "unscored"]
    assert out[1].compound is None and out[1].reason == "no_api_key" and out[1].negative is None


def test_claude_scores_the_rest_in_one_batch_redacted_and_costed():
    from models.claude import ClaudeClient

    def responder(body):
        return {"compound": -0.7, "label": "negative"}

    with FakeAnthropic(responder=responder) as fake:
        client = ClaudeClient(api_key="test", base_url=fake.base_url)
        posts = [(10, "fr", "Sinistre refusé par Claimflow, rappelez-moi au 06 12 34 56 78 ou jean.dupont@example.fr"),
                 (11, "en", "Great service"), (12, "de", "Schaden abgelehnt")]
        out = score_posts(posts, client, batch_config=FAST, sleep=lambda s: None)
        client.close()
    assert [s.scored_by for s in out] == ["claude", "vader", "claude"]
    assert out[0].compound == -0.7 and out[0].negative and out[0].cost_usd > 0
    batches = fake.batch_requests()
    assert len(batches) == 1 and len(batches[0].body["requests"]) == 2
    patterns = seeded_patterns(emails=["jean.dupont@example.fr"], phones=["+33612345678"])
    assert leaked(batches[0].text, patterns) == []
