"""A replay of public posts about the insurer: multi-day, three languages, injected events with ground truth.

The data-generating process is documented step by step in docs/social_stream.md; every
number used here is stated there. In short: hourly Poisson streams (brand chatter with a
diurnal and weekly rhythm, weather chatter, background complaints about the app, the
partner garage networks and refused claims), English chatter built on the 4,200 real tweets
of the VADER ground truth (Hutto & Gilbert 2014, MIT, `data/`), retweets and copy-paste
near-duplicates, posts the queries do not match, and injected events, each with a start, an
end and a kind in the ground truth:

- `catastrophe`: hail or flood in one region, ramping up over an hour, decaying after;
- `app_outage`: the claims app down for a few hours, complaints in every language;
- `garage_complaints`: a complaint wave about one partner garage network over a day or two;
- `viral_post`: one post about a refused claim, amplified by a retweet cascade.

Posts are X API v2 JSON lines (`{"data": {...}, "includes": {...}}`), ids are snowflakes
(time-ordered), so any tool that reads a recorded stream reads this one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from connectors.regions import REGION_TOWNS, REGIONS

DATA_DIR = Path(__file__).parent / "data"
VADER_TWEETS = DATA_DIR / "vader_tweets_groundtruth.txt.gz"
TWITTER_EPOCH_MS = 1288834974657

BRAND = "Claimflow"
BRAND_HANDLE = "ClaimflowAssur"
GARAGE_NETWORKS = ("ReparExpress", "CarroPlus", "Garages Martin")
EVENT_KINDS = ("catastrophe", "app_outage", "garage_complaints", "viral_post")
LANG_SHARE = {"fr": 0.70, "en": 0.18, "de": 0.12}

# Hourly rates (posts per hour at a diurnal factor of 1), stated in docs/social_stream.md.
RATES = {"brand": 14.0, "weather": 2.5, "app": 0.6, "garage": 0.25, "refusal": 0.35, "unrelated": 0.8}
RETWEET_MEAN = 0.25
NEAR_DUPLICATE_SHARE = 0.02
WEEKEND_FACTOR = 0.8
# Share of people per region (INSEE 2021, rounded): who posts, and where the events can happen.
REGION_WEIGHTS = {
    "Auvergne-Rhône-Alpes": 12.0, "Bourgogne-Franche-Comté": 4.2, "Bretagne": 5.1, "Centre-Val de Loire": 3.8,
    "Corse": 0.5, "Grand Est": 8.2, "Hauts-de-France": 8.9, "Île-de-France": 18.3, "Normandie": 5.0,
    "Nouvelle-Aquitaine": 9.1, "Occitanie": 9.0, "Pays de la Loire": 5.8, "Provence-Alpes-Côte d'Azur": 7.6,
}
# Where a post's place comes from: a geo tag, the author's profile location, or nothing.
GEO_TAG_SHARE, PROFILE_LOCATION_SHARE = 0.15, 0.45


def diurnal(hour: float) -> float:
    """Posting rhythm by local hour, mean 1 over a day: a night trough at 4h, peaks at 12h-13h and 20h-21h."""
    h = hour % 24
    day = math.exp(-((h - 12.5) ** 2) / 18) + 1.1 * math.exp(-((h - 20.5) ** 2) / 8)
    return (0.12 + day) / _DIURNAL_MEAN


_DIURNAL_MEAN = sum(0.12 + math.exp(-((h - 12.5) ** 2) / 18) + 1.1 * math.exp(-((h - 20.5) ** 2) / 8)
                    for h in range(24)) / 24


@lru_cache(maxsize=1)
def load_vader_tweets() -> tuple[tuple[str, float, str], ...]:
    """The 4,200 real tweets with their mean human rating (-4..4): (id, rating, text)."""
    out = []
    with gzip.open(VADER_TWEETS, "rt", encoding="utf-8") as fh:
        for row in fh:
            parts = row.rstrip("\r\n").split("\t")
            if len(parts) == 3:
                out.append((parts[0], float(parts[1]), parts[2].replace("&amp;", "&")))
    return tuple(out)


# ------------------------------------------------------------------ text

_TEMPLATES = {
    "brand": {
        "fr": ["Quelqu'un a déjà eu affaire à {b} pour un sinistre auto ?", "Devis {b} reçu, plutôt correct {e}",
               "{b} m'a rappelé en 10 minutes, franchement top", "Je compare {b} et la concurrence pour ma voiture",
               "Renouvellement chez {b}, le tarif a encore augmenté {e}", "Merci {h} pour la rapidité du dossier",
               "Pub {b} à la télé ce soir, toujours la même musique", "Mon conseiller {b} est vraiment sympa",
               "Attestation {b} téléchargée en deux clics", "Pas de nouvelles de {b} depuis une semaine..."],
        "de": ["Hat jemand Erfahrung mit {b} Kfz-Versicherung?", "{b} hat schnell zurückgerufen, super Service",
               "Beitrag bei {b} schon wieder teurer {e}", "Schaden bei {b} gemeldet, mal sehen",
               "Danke {h} für die schnelle Hilfe", "Warte seit Tagen auf Antwort von {b}..."],
        "en": ["Anyone insured with {b} in France?", "{b} sorted my windscreen claim in two days, impressed",
               "Renewal quote from {b} went up again {e}", "Thanks {h} for the quick call back"],
    },
    "weather": {
        "fr": ["Gros orage ce soir sur {t}", "Quelle tempête cette nuit {e}", "Il pleut des cordes à {t}",
               "Un peu de grêle ce matin à {t}, rien de grave", "Vigilance orange orages pour {t} demain"],
        "de": ["Heftiges Unwetter heute Abend in {t}", "Etwas Hagel heute früh in {t}", "Sturm in der Nacht {e}"],
        "en": ["Storm rolling in over {t} tonight", "A bit of hail this morning in {t}, nothing serious"],
    },
    "app": {
        "fr": ["L'appli {b} plante encore quand j'ajoute des photos {e}", "Impossible de me connecter à l'appli {b}",
               "L'application {b} est lente ce soir"],
        "de": ["Die {b} App stürzt beim Foto-Upload ab", "{b} App Login geht nicht {e}"],
        "en": ["{b} app keeps crashing when I upload photos", "Can't log in to the {b} app"],
    },
    "garage": {
        "fr": ["Voiture récupérée chez {g}, rayure en plus {e}", "{g} ne répond pas, ça fait 3 semaines",
               "Très bon accueil chez {g} à {t}", "Attente de pièces chez {g} depuis 10 jours"],
        "de": ["Auto bei {g} abgeholt, neuer Kratzer {e}", "{g} meldet sich seit Wochen nicht"],
        "en": ["Picked up my car from {g}, new scratch on the door", "{g} still hasn't called back"],
    },
    "refusal": {
        "fr": ["{b} refuse mon sinistre pour un détail, dossier refusé {e}", "Sinistre refusé par {b}, je conteste",
               "Indemnisation refusée par {b} après 2 mois"],
        "de": ["{b} lehnt meinen Schaden ab {e}", "Schaden abgelehnt von {b}, unglaublich"],
        "en": ["{b} refused my claim over a technicality", "Claim denied by {b} after two months"],
    },
    "unrelated": {
        "fr": ["Le match de ce soir promet", "Bouchons monstres sur le périph", "Recette de crêpes inratable"],
        "de": ["Stau auf der A5 wie immer", "Heute Abend Fußball"],
        "en": ["Best coffee in town", "Traffic is awful today"],
    },
}
_EVENT_TEMPLATES = {
    ("catastrophe", "hail"): {
        "fr": ["Grêle énorme sur {t} !! Pare-brise explosé {e}", "Grêlons gros comme des balles de golf à {t}",
               "La grêle a défoncé toutes les voitures du parking à {t}", "Orage de grêle à {t}, carrosserie criblée",
               "Déclaration de sinistre grêle chez {b} en cours, {t} dévastée"],
        "de": ["Hagel in {t}, Auto voller Dellen {e}", "Hagelsturm über {t}, Windschutzscheibe kaputt",
               "Riesige Hagelkörner in {t}!"],
        "en": ["Massive hail in {t}, windscreen smashed", "Hailstorm in {t} just wrecked every car on our street"],
    },
    ("catastrophe", "flood"): {
        "fr": ["Inondation à {t}, voitures sous l'eau {e}", "Rues inondées à {t}, ma voiture a pris l'eau",
               "Crue éclair à {t}, parking souterrain inondé", "Tout est inondé à {t}, sinistre déclaré chez {b}"],
        "de": ["Hochwasser in {t}, Autos unter Wasser", "Überschwemmung in {t}, Tiefgarage voll Wasser"],
        "en": ["Flash flood in {t}, cars under water", "Flooding in {t}, our garage is full of water"],
    },
    ("app_outage", None): {
        "fr": ["L'appli {b} est en panne ?? Impossible de déclarer mon sinistre {e}",
               "{b} appli HS depuis ce matin, erreur 503", "Site et appli {b} en panne, service client injoignable",
               "Encore une panne de l'appli {b}, c'est pas sérieux"],
        "de": ["{b} App down? Seit Stunden keine Verbindung {e}", "{b} App Störung, Schaden melden unmöglich"],
        "en": ["Is the {b} app down? Error 503 all morning", "{b} app outage, can't file my claim {e}"],
    },
    ("garage_complaints", None): {
        "fr": ["{g} a abîmé ma voiture pendant la réparation {e}", "Arnaque chez {g}, facture gonflée",
               "Évitez {g}, 4 semaines pour un pare-choc", "{g} : voiture rendue sale et pas réparée",
               "Le garage {g} agréé {b} est une catastrophe"],
        "de": ["{g} hat mein Auto bei der Reparatur beschädigt", "Finger weg von {g}, Rechnung viel zu hoch"],
        "en": ["{g} damaged my car during the repair", "Avoid {g}, four weeks for a bumper"],
    },
}
_REPLIES = {
    "fr": ["Honteux {h}", "Scandaleux, {b} doit s'expliquer", "Je résilie chez {b}", "Pareil pour moi avec {b}"],
    "de": ["Unglaublich {h}", "{b} sollte sich schämen"],
    "en": ["Shameful {h}", "Same happened to me with {b}"],
}
# People rarely write the same sentence twice: an opening and a closing of their own around the template.
_OPENERS = {
    "fr": ("", "", "", "", "Bon, ", "Franchement, ", "Alors ", "Sérieux, ", "Bref. ", "Ok ", "Hmm ", "Ça y est, "),
    "de": ("", "", "", "", "Also ", "Ehrlich, ", "Na ja, ", "Ok, ", "Tja, "),
    "en": ("", "", "", "", "Honestly, ", "Ok so ", "Well, ", "Ugh, ", "So "),
}
_CLOSERS = {
    "fr": ("", "", "", "", " !", " ...", " #assurance", " #auto", " ce matin", " hier soir", " encore une fois",
           " merci", " vraiment", " bref", " lol", " 🙏"),
    "de": ("", "", "", "", " !", " ...", " #Versicherung", " heute", " echt", " wieder mal", " danke"),
    "en": ("", "", "", "", " !", " ...", " #insurance", " today", " again", " seriously", " lol"),
}
_EMOJI = ("", "", "", "😡", "🙄", "😤", "👍", "🤔", "😢")
_REFUSAL_VIRAL = {
    "fr": "Après 15 ans chez {b}, mon sinistre refusé pour une case mal cochée. Voiture détruite, 0€. Partagez.",
    "en": "15 years with {b} and my claim refused over a box ticked wrong. Car destroyed, nothing paid. Share this.",
    "de": "15 Jahre bei {b} und mein Schaden abgelehnt wegen eines Kreuzchens. Auto kaputt, 0€. Teilen!",
}


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class InjectedEvent:
    """One injected event and its ground truth."""

    event_id: str
    kind: str
    start: datetime
    end: datetime
    peak_rate: float
    region: str | None = None
    peril: str | None = None
    entity: str | None = None
    posts: int = 0

    def to_json(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        d["end"] = self.end.isoformat()
        return d


def _event_profile(kind: str, t_hours: np.ndarray, duration: float) -> np.ndarray:
    """Shape of an event's extra rate over hours since onset (peak 1)."""
    t = np.asarray(t_hours, dtype=float)
    if kind == "catastrophe":  # ramp over an hour, then decay with a 3-hour time constant
        shape = np.where(t < 1, t, np.exp(-(t - 1) / 3.0))
    elif kind == "app_outage":  # a plateau while down, a short tail after the fix
        shape = np.where(t < 0.5, t / 0.5, np.where(t < duration, 1.0, np.exp(-(t - duration) / 1.0)))
    elif kind == "garage_complaints":  # a wave over a day or two: 3-hour ramp, slow decay
        shape = np.where(t < 3, t / 3, np.exp(-(t - 3) / (duration / 2)))
    else:  # viral: the cascade is drawn separately
        shape = np.zeros_like(t)
    return np.where(t >= 0, shape, 0.0)


def plan_events(rng: np.random.Generator, start: datetime, days: int, n_events: int) -> list[dict]:
    """Kinds, onsets and sizes for `n_events` events after the first week (a baseline to learn from)."""
    if n_events == 0:
        return []
    first = 7 * 24 if days > 8 else 24
    slots = np.sort(rng.choice(np.arange(first, days * 24 - 30), size=n_events, replace=False))
    # Events at least 18 h apart, so each has its own truth window.
    for i in range(1, len(slots)):
        slots[i] = max(slots[i], slots[i - 1] + 18)
    plans = []
    kinds = []  # every kind once per block of four, in a random order
    while len(kinds) < n_events:
        kinds += [EVENT_KINDS[i] for i in rng.permutation(len(EVENT_KINDS))]
    for slot, kind in zip(slots, kinds[:n_events], strict=False):
        if slot >= days * 24 - 12:
            continue
        onset = start + timedelta(hours=int(slot), minutes=int(rng.integers(0, 60)))
        plan = {"kind": kind, "onset": onset}
        if kind == "catastrophe":
            regions = [r for r in REGIONS if r != "Corse"]
            weights = np.array([REGION_WEIGHTS[r] for r in regions])
            plan.update(region=str(rng.choice(regions, p=weights / weights.sum())),
                        peril=str(rng.choice(["hail", "flood"], p=[0.65, 0.35])),
                        peak=float(rng.uniform(25, 90)), duration=0.0)
        elif kind == "app_outage":
            plan.update(peak=float(rng.uniform(18, 50)), duration=float(rng.uniform(2, 6)))
        elif kind == "garage_complaints":
            plan.update(entity=str(rng.choice(GARAGE_NETWORKS)), peak=float(rng.uniform(4, 9)),
                        duration=float(rng.uniform(24, 48)))
        else:
            plan.update(peak=float(rng.uniform(300, 1500)), duration=0.0)  # total retweets of the cascade
        plans.append(plan)
    return plans


# ------------------------------------------------------------------ generator


class _Writer:
    """Turns drawn posts into X API v2 lines with snowflake ids, users and places."""

    def __init__(self, rng: np.random.Generator, seed: int):
        self.rng = rng
        self.py = random.Random(seed)  # choices among lists (numpy would copy the list into an array per call)
        self.lines: list[dict] = []
        self.seq = 0
        self.n_users = 60_000
        regions = list(REGION_WEIGHTS)
        w = np.array([REGION_WEIGHTS[r] for r in regions])
        self.user_region = rng.choice(regions, size=self.n_users, p=w / w.sum())

    def snowflake(self, ts: datetime) -> str:
        self.seq = (self.seq + 1) % 4096
        ms = int(ts.timestamp() * 1000) - TWITTER_EPOCH_MS
        return str((ms << 22) | (self.py.getrandbits(10) << 12) | self.seq)

    def town(self, region: str) -> str:
        return self.py.choice(_TOWNS[region])

    def post(self, ts: datetime, text: str, lang: str, *, user: int | None = None, region: str | None = None,
             refs: list[dict] | None = None, metrics: dict | None = None) -> dict:
        user = self.py.randrange(self.n_users) if user is None else user
        region = region or str(self.user_region[user])
        tid = self.snowflake(ts)
        data = {"id": tid, "text": text, "created_at": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "author_id": str(10_000_000 + user), "lang": lang, "conversation_id": tid,
                "edit_history_tweet_ids": [tid],
                "public_metrics": metrics or {"retweet_count": 0, "reply_count": 0,
                                              "like_count": self.py.randrange(4), "quote_count": 0}}
        if refs:
            data["referenced_tweets"] = refs
        includes: dict = {}
        user_obj = {"id": data["author_id"], "name": f"user {user}", "username": f"u{user:05d}_{lang}"}
        roll = self.py.random()
        if roll < GEO_TAG_SHARE:
            town = self.town(region)
            place_id = hashlib.sha256(f"{town}|{region}".encode()).hexdigest()[:16]
            data["geo"] = {"place_id": place_id}
            includes["places"] = [{"id": place_id, "full_name": f"{town}, France", "country_code": "FR"}]
        elif roll < GEO_TAG_SHARE + PROFILE_LOCATION_SHARE:
            user_obj["location"] = self.py.choice([self.town(region), f"{self.town(region)}, France", region])
        includes["users"] = [user_obj]
        line = {"data": data, "includes": includes}
        self.lines.append(line)
        return line


_TOWNS = {r: [t for t in towns if t not in ("IDF", "Corsica", "Korsika", "Elsass", "Alsace", "Lothringen",
                                           "Île-de-France")] for r, towns in REGION_TOWNS.items()}


def _fill(template: str, w: _Writer, region: str, entity: str | None = None, lang: str = "fr") -> str:
    py = w.py
    return py.choice(_OPENERS[lang]) + template.format(b=BRAND if py.random() < 0.8 else f"{BRAND} Assurances", h=f"@{BRAND_HANDLE}",
                           e=py.choice(_EMOJI), t=w.town(region), g=entity or py.choice(GARAGE_NETWORKS)
                           ) + py.choice(_CLOSERS[lang])


_LANGS = ("fr", "en", "de")
# German speakers post mostly from the eastern border regions.
_LANG_BORDER = (0.55, 0.10, 0.35)
_LANG_ELSEWHERE = (LANG_SHARE["fr"] + 0.06, LANG_SHARE["en"], LANG_SHARE["de"] - 0.06)


def _language(py: random.Random, region: str) -> str:
    return py.choices(_LANGS, weights=_LANG_BORDER if region == "Grand Est" else _LANG_ELSEWHERE)[0]


def _ts(rng: np.random.Generator, hour_start: datetime) -> datetime:
    return hour_start + timedelta(seconds=float(rng.uniform(0, 3600)))


def generate_social_stream(
    seed: int,
    *,
    start: datetime | None = None,
    days: int = 14,
    n_events: int | None = None,
    rate_scale: float = 1.0,
) -> tuple[list[dict], list[InjectedEvent]]:
    """Posts as X API v2 lines (sorted by id) and the injected events, deterministic for the arguments.

    `start` is rounded down to a Monday 00:00 UTC (default: 2026-06-01); `n_events` defaults
    to 4 events after the first week when `days >= 11`, else 0 (a quiet stream); `rate_scale`
    multiplies every background rate (the benchmark's 1M-post streams).
    """
    rng = np.random.default_rng(seed)
    start = (start or datetime(2026, 6, 1, tzinfo=UTC)).astimezone(UTC)
    start = (start - timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    if days < 1:
        raise ValueError("days must be at least 1")
    if n_events is None:
        n_events = 4 if days >= 11 else 0
    w = _Writer(rng, seed)
    vader = load_vader_tweets()
    weather_en = [t for t in vader if any(k in t[2].lower() for k in ("storm", "rain", "flood", "hail", "thunder"))]

    # Background, hour by hour.
    for h in range(days * 24):
        hour_start = start + timedelta(hours=h)
        local_hour = (hour_start.hour + 2) % 24  # Europe/Paris in summer
        factor = diurnal(local_hour) * (WEEKEND_FACTOR if hour_start.weekday() >= 5 else 1.0) * rate_scale
        for topic, rate in RATES.items():
            for _ in range(int(rng.poisson(rate * factor))):
                user = w.py.randrange(w.n_users)
                region = str(w.user_region[user])
                lang = _language(w.py, region)
                ts = _ts(rng, hour_start)
                if lang == "en" and topic == "brand":
                    text = f"{w.py.choice(vader)[2].strip()} {w.py.choice(['@' + BRAND_HANDLE, '#' + BRAND, BRAND])}"
                elif lang == "en" and topic == "weather" and weather_en:
                    text = w.py.choice(weather_en)[2]
                else:
                    text = _fill(w.py.choice(_TEMPLATES[topic][lang]), w, region, lang=lang)
                line = w.post(ts, text, lang, user=user, region=region)
                _copies(w, line, ts)

    events: list[InjectedEvent] = []
    for i, plan in enumerate(plan_events(rng, start, days, n_events)):
        events.append(_inject(w, plan, f"{plan['kind']}-{seed}-{i}", start + timedelta(days=days)))
    w.lines.sort(key=lambda b: int(b["data"]["id"]))
    return w.lines, events


def _copies(w: _Writer, line: dict, ts: datetime, mean: float = RETWEET_MEAN) -> None:
    """Retweets and copy-paste near-duplicates of a post, in the hours after it."""
    rng = w.rng
    data = line["data"]
    handle = line["includes"]["users"][0]["username"]
    for _ in range(int(rng.poisson(mean))):
        at = ts + timedelta(minutes=float(rng.exponential(90)))
        w.post(at, f"RT @{handle}: {data['text']}"[:280], data["lang"],
               refs=[{"type": "retweeted", "id": data["id"]}])
    if rng.random() < NEAR_DUPLICATE_SHARE:
        at = ts + timedelta(minutes=float(rng.exponential(30)))
        w.post(at, data["text"] + w.py.choice([" ", "  !", f" https://t.co/x{w.py.randrange(10**6)}"]),
               data["lang"])


def _inject(w: _Writer, plan: dict, event_id: str, horizon: datetime) -> InjectedEvent:
    rng = w.rng
    kind, onset = plan["kind"], plan["onset"]
    n = 0
    if kind == "viral_post":
        lang = str(rng.choice(["fr", "en", "de"], p=[0.75, 0.15, 0.10]))
        origin = w.post(onset, _fill(_REFUSAL_VIRAL[lang], w, "Île-de-France", lang=lang), lang)
        total = int(plan["peak"])
        # The cascade: retweet delays ~ lognormal (median 50 min), a reply for every 8 retweets.
        delays = rng.lognormal(math.log(50), 1.0, size=total)
        for d in delays:
            at = onset + timedelta(minutes=float(d))
            if at >= horizon:
                continue
            handle = origin["includes"]["users"][0]["username"]
            if rng.random() < 1 / 8:
                rl = w.py.choice(list(_REPLIES))
                w.post(at, f"@{handle} " + _fill(w.py.choice(_REPLIES[rl]), w, "Île-de-France", lang=rl), rl,
                       refs=[{"type": "replied_to", "id": origin["data"]["id"]}])
            else:
                w.post(at, f"RT @{handle}: {origin['data']['text']}"[:280], lang,
                       refs=[{"type": "retweeted", "id": origin["data"]["id"]}])
            n += 1
        end = onset + timedelta(minutes=float(np.quantile(delays, 0.95)))
        return InjectedEvent(event_id, kind, onset, end, float(total), posts=n + 1)

    peak, duration = plan["peak"], plan.get("duration", 0.0)
    templates = _EVENT_TEMPLATES[(kind, plan.get("peril"))]
    hours = np.arange(0, 96)
    shape = _event_profile(kind, hours + 0.5, duration)
    end_h = int(hours[shape >= 0.05].max()) + 1 if (shape >= 0.05).any() else 1
    for h in hours[: end_h + 2]:
        hour_start = onset + timedelta(hours=int(h))
        if hour_start >= horizon:
            break
        rate = peak * shape[h]
        if kind != "catastrophe":
            rate *= 0.4 + 0.6 * diurnal((hour_start.hour + 2) % 24)  # people notice outages when awake
        for _ in range(int(rng.poisson(rate))):
            ts = _ts(rng, hour_start)
            region = plan.get("region") or str(w.user_region[int(rng.integers(0, w.n_users))])
            lang = _language(w.py, region)
            text = _fill(w.py.choice(templates[lang]), w, region, plan.get("entity"), lang=lang)
            line = w.post(ts, text, lang, region=region)
            _copies(w, line, ts, mean=0.6)
            n += 1
    end = onset + timedelta(hours=end_h)
    return InjectedEvent(event_id, kind, onset, end, peak, plan.get("region"), plan.get("peril"),
                         plan.get("entity"), n)


def write_replay(path: Path | str, lines: Sequence[dict], events: Sequence[InjectedEvent],
                 truth_path: Path | str | None = None) -> tuple[Path, Path]:
    """Write the replay (JSON lines) and its ground truth (one event per line) next to it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
    truth = Path(truth_path) if truth_path else path.with_suffix(".truth.jsonl")
    with open(truth, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in events)
    return path, truth


def read_truth(path: Path | str) -> list[InjectedEvent]:
    """The ground truth written by `write_replay`."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for row in fh:
            if row.strip():
                d = json.loads(row)
                d["start"], d["end"] = datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"])
                out.append(InjectedEvent(**d))
    return out
