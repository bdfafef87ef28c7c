"""The workspace's defences: sanitised e-mail HTML, CSRF tokens, login rate limiting, safe redirects."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections import deque

import nh3

# What an e-mail body may keep: text structure and links. No images (remote content is how a
# sender learns a message was opened), no styles, scripts, frames or forms.
EMAIL_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
EMAIL_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_REMOTE = re.compile(r"""<(?:img|image|video|audio|source|iframe|link|object|embed)\b[^>]*?\b(?:src|href|srcset|data)\s*=\s*["']?\s*(?:https?:)?//""",
                     re.IGNORECASE)


def sanitize_email_html(html: str) -> tuple[str, int]:
    """The e-mail's HTML made inert (allow-list of tags, links that open nothing of ours), and how
    many remote resources (tracking pixels, remote images, frames) were blocked."""
    blocked = len(_REMOTE.findall(html or ""))
    safe = nh3.clean(
        html or "",
        tags=EMAIL_TAGS,
        attributes=EMAIL_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return safe, blocked


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after signing in; anything pointing elsewhere becomes `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class LoginLimiter:
    """At most `attempts` failed sign-ins per username and per client in `window` seconds.

    In memory: one workspace process per deployment here; behind several replicas the
    identity provider (OIDC) does the limiting.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0, clock=time.monotonic):
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque:
        q = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before another try (0 when allowed)."""
        with self._lock:
            waits = []
            for key in keys:
                q = self._recent(key)
                if len(q) >= self.attempts:
                    waits.append(q[0] + self.window - self.clock())
            return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
