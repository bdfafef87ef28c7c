"""The language a claim mail is written in (EN, FR, DE, ES, IT, NL), kept on the claim so replies use it.

A count of each language's function words decides when it is decisive (most mail: six or
more, three times the runner-up); otherwise `lingua-language-detector` (low-accuracy mode:
trigram models only, ~25 MB, a one-off ~0.4 s load) restricted to the six languages reads the
mail's own words, and the function words break its near ties. Measured on the 84 hand-written
mails: lingua with the function words 84/84, function words alone 81/84.
"""

from __future__ import annotations

import re
from functools import lru_cache

LANGUAGES = ("en", "fr", "de", "es", "it", "nl")

# Function words that are frequent in one language and rare in the other five.
_STOPWORDS = {
    "en": "the and is was my of to on in it this that with have has yesterday please thanks regards hi",
    "fr": "le la les et est je mon ma mes une des du au aux pour avec sur hier merci bonjour cordialement vous",
    "de": "der die das und ist ich mein meine ein eine nicht mit auf von zu gestern bitte danke grüße sehr wurde",
    "es": "el la los las y es mi mis un una del con por para que ayer gracias hola saludos señores",
    "it": "il lo la gli le e è mio mia un una del della con per che ieri grazie buongiorno saluti sono",
    "nl": "de het een en is ik mijn niet met op van te voor gisteren bedankt groet graag heb",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+")


def stopword_scores(text: str) -> dict[str, int]:
    """How many function words of each language `text` uses."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    return {lang: sum(t in words for t in tokens) for lang, words in _WORDS.items()}


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    langs = [Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.SPANISH, Language.ITALIAN, Language.DUTCH]
    return LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().build()


_ISO = {"ENGLISH": "en", "FRENCH": "fr", "GERMAN": "de", "SPANISH": "es", "ITALIAN": "it", "DUTCH": "nl"}


def detect_language(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, confidence) of `text`, or (None, 0.0) when it has no words to go by."""
    text = text[:1500]  # the opening words decide; the cost grows with the length
    scores = stopword_scores(text)
    total = sum(scores.values())
    if not _TOKEN.search(text):
        return None, 0.0
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] >= 6 and ranked[0] >= 3 * ranked[1]:
        # Decisive function words (most mail): the detector would agree and costs ~20x more.
        return max(scores, key=scores.get), 0.95
    values = _detector().compute_language_confidence_values(text)
    top = values[0] if values else None
    lingua_lang = _ISO.get(top.language.name) if top is not None else None
    lingua_conf = float(top.value) if top is not None else 0.0
    best_sw = max(scores, key=scores.get) if total else None
    if lingua_lang and (lingua_conf >= 0.9 or best_sw is None or scores[best_sw] < 3):
        return lingua_lang, round(lingua_conf, 3)
    if best_sw and scores[best_sw] >= 2 * max(1, sorted(scores.values())[-2]):
        return best_sw, 0.85
    return lingua_lang, round(lingua_conf, 3)
