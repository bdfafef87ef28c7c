"""From X API v2 lines to the rows of `social_posts`: only the fields needed, authors pseudonymised.

`normalize` keeps id, time, language, text, the matched queries, public counts, a keyed
hash of the author (never the handle), the region when the place or the author's location
names one, the topic (`models.trends.classify`), and the post it copies: a retweet points
at the retweeted post, a copy-paste near-duplicate at the first post with the same
normalised text (retweet prefix, links, mentions, punctuation and case removed). Copies
count as activity in the trends but are never scored or shown as evidence twice.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd

from connectors.regions import region_of_place
from connectors.x import PostLine, parse_created_at, pseudonymise
from models.trends import classify

POST_COLUMNS = (
    "post_id", "canonical_id", "is_copy", "created_at", "hour", "lang", "text", "text_hash", "author_hash",
    "region", "matched", "topic", "entity", "retweets", "replies", "likes", "quotes", "pulled_at",
)  # fmt: skip

_RT = re.compile(r"^RT @\w+:\s*")
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def text_fingerprint(text: str) -> str:
    """A hash of the text with what copies change removed (RT prefix, links, mentions, punctuation, case)."""
    t = _RT.sub("", text or "")
    t = _MENTION.sub(" ", _URL.sub(" ", t))
    t = unicodedata.normalize("NFKC", t).casefold()
    t = _NON_WORD.sub(" ", t).strip()
    return hashlib.sha1(t.encode()).hexdigest()[:16]


def _region(line: PostLine) -> str | None:
    for place in line.includes.get("places") or []:
        region = region_of_place(place.get("full_name"))
        if region:
            return region
    for user in line.includes.get("users") or []:
        if user.get("id") == line.data.get("author_id"):
            return region_of_place(user.get("location"))
    return None


def _author(line: PostLine) -> str | None:
    for user in line.includes.get("users") or []:
        if user.get("id") == line.data.get("author_id") and user.get("username"):
            return user["username"]
    return line.data.get("author_id")


def normalize(lines: Iterable[PostLine], *, key: bytes, pulled_at: datetime | None = None) -> pd.DataFrame:
    """One row per distinct post id (first seen wins; matched queries merged), copies linked."""
    rows: dict[int, dict] = {}
    for line in lines:
        d = line.data
        pid = int(d["id"])
        if pid in rows:
            rows[pid]["matched"] = ",".join(sorted(set(rows[pid]["matched"].split(",")) | set(line.matched) - {""}))
            continue
        created = parse_created_at(d["created_at"]).replace(tzinfo=None)
        text = d.get("text", "")
        retweeted = next((int(r["id"]) for r in d.get("referenced_tweets") or [] if r.get("type") == "retweeted"),
                         None)
        topic, entity = classify(_RT.sub("", text))
        metrics = d.get("public_metrics") or {}
        rows[pid] = {
            "post_id": pid, "canonical_id": retweeted or pid, "is_copy": retweeted is not None,
            "created_at": created, "hour": created.replace(minute=0, second=0, microsecond=0),
            "lang": d.get("lang") or "und", "text": text, "text_hash": text_fingerprint(text),
            "author_hash": pseudonymise(_author(line), key), "region": _region(line),
            "matched": ",".join(sorted(set(line.matched))), "topic": topic, "entity": entity,
            "retweets": int(metrics.get("retweet_count", 0)), "replies": int(metrics.get("reply_count", 0)),
            "likes": int(metrics.get("like_count", 0)), "quotes": int(metrics.get("quote_count", 0)),
            "pulled_at": (pulled_at or datetime.now()).replace(tzinfo=None),
        }
    frame = pd.DataFrame(list(rows.values()), columns=list(POST_COLUMNS))
    return link_copies(frame)


def link_copies(frame: pd.DataFrame, known: pd.DataFrame | None = None, window_hours: float = 24.0) -> pd.DataFrame:
    """Point a near-duplicate at the first post with the same fingerprint in the `window_hours` before it.

    `known` holds earlier posts (post_id, text_hash, created_at). The same sentence a day
    apart is two people saying it, not a copy: only posts within the window collapse.
    """
    if frame.empty:
        return frame
    cols = ["post_id", "text_hash", "created_at"]
    pool = frame[cols]
    if known is not None and not known.empty:
        pool = pd.concat([known[cols], pool], ignore_index=True).drop_duplicates("post_id")
    pool = pool.sort_values(["text_hash", "created_at", "post_id"])
    hashes = pool["text_hash"].to_numpy()
    times = pool["created_at"].to_numpy()
    ids = pool["post_id"].to_numpy()
    limit = np.timedelta64(int(window_hours * 3600), "s")
    first_of = {}
    head_id, head_time, head_hash = None, None, None
    for h, t, i in zip(hashes, times, ids, strict=True):
        if h != head_hash or t - head_time > limit:
            head_id, head_time, head_hash = i, t, h
        first_of[i] = head_id
    earliest = frame["post_id"].map(first_of)
    near_dup = ~frame["is_copy"] & (earliest != frame["post_id"])
    frame = frame.copy()
    frame.loc[near_dup, "canonical_id"] = earliest[near_dup].astype("int64")
    frame.loc[near_dup, "is_copy"] = True
    return frame
