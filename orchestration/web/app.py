"""The review and approval workspace: FastAPI routes over server-rendered Jinja2 pages.

Server-rendered pages with a little htmx (vendored from the npm package `htmx.org`) keep the
workspace one Python process with no build step and no client-side state to secure, and
every page still works without JavaScript. Routes are thin: each calls the domain function
the CLI calls (`ReviewQueue`, `ModelRegistry`, `AuditLog`, `IdentityStore`), and the person
acting is the signed-in user from `CurrentUser`, never a name in a form.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from connectors.identity import ROLES, AuthError, IdentityStore, User
from orchestration.web.security import (
    LoginLimiter,
    csrf_matches,
    new_csrf_token,
    safe_next,
    sanitize_email_html,
)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "claimflow_session"
SESSION_HOURS = 8
VERIFY_EVERY_SECONDS = 30
log = logging.getLogger("claimflow.web")


@dataclass(frozen=True)
class WebConfig:
    """Where the workspace reads and writes, and how it keeps sessions."""

    sor_url: str
    secret_key: str
    warehouse_path: Path | None = None
    inbox_dir: Path | None = None
    attachments_dir: Path | None = None
    reports_dir: Path | None = None
    model_repository: Path | None = None  # the serving repository: the ONNX that explains a score
    registry_uri: str | None = None  # None: found per request (server, else the local store)
    mlflow_ui_url: str | None = None
    https: bool = False
    claim_timeout_minutes: float = 30.0
    oidc: object | None = None  # an `OidcClient` when an identity provider is configured

    @classmethod
    def from_settings(cls) -> WebConfig:
        """The workspace over the product's settings (`orchestration/settings.py`)."""
        from assets.project import reports_dir
        from connectors.secrets import local_secret, new_hex_key
        from orchestration.commands.review import claim_timeout_minutes
        from orchestration.settings import settings

        s = settings()
        oidc = None
        if s.oidc_issuer:
            from orchestration.web.oidc import OidcClient

            oidc = OidcClient.from_environment(s.oidc_issuer, s.oidc_client_id,
                                               (s.public_url or f"http://127.0.0.1:{s.web_port}") + "/auth/callback")
        return cls(
            sor_url=s.ready_sor_url(),
            secret_key=local_secret("CLAIMFLOW_WEB_SECRET", "web_session.key", new_hex_key).decode(),
            warehouse_path=s.warehouse_path,
            inbox_dir=s.inbox_dir,
            attachments_dir=s.attachments_dir,
            reports_dir=reports_dir(),
            model_repository=s.triton_repository,
            mlflow_ui_url=s.mlflow_tracking_uri,
            https=s.public_url.startswith("https://"),
            claim_timeout_minutes=claim_timeout_minutes(),
            oidc=oidc,
        )


# ------------------------------------------------------------------ identity by dependency


class SignInRequired(Exception):
    """No signed-in user: pages redirect to the sign-in page, API clients get 401."""


def get_current_user(request: Request) -> User:
    """The signed-in user (session cookie) or the owner of a bearer API token; never a form field."""
    store: IdentityStore = request.app.state.identity
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            user = store.user_for_token(header[7:])
        except AuthError:
            raise SignInRequired() from None
        request.state.bearer = True
        return user
    username = request.session.get("user")
    if not username:
        raise SignInRequired()
    user = store.get(username)
    if user is None or not user.active:  # disabled since signing in: the session ends now
        request.session.clear()
        raise SignInRequired()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(permission: str):
    """A dependency: the current user, if one of their roles grants `permission` (403 otherwise)."""

    def dependency(user: CurrentUser) -> User:
        try:
            return user.require(permission)
        except AuthError as err:
            raise HTTPException(status_code=403, detail=str(err)) from None

    return dependency


Decider = Annotated[User, Depends(require("review.decide"))]
Admin = Annotated[User, Depends(require("users.manage"))]


async def csrf_protect(request: Request) -> None:
    """Every state-changing request carries the session's CSRF token (form field or X-CSRF-Token header)."""
    if getattr(request.state, "bearer", False) or request.headers.get("authorization", "").lower().startswith(
            "bearer "):
        return  # no cookie was used, so no cross-site request can ride on it
    if request.url.path != "/login" and not request.session.get("user"):
        raise SignInRequired()
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        given = form.get("csrf_token")
    if not csrf_matches(request.session.get("csrf"), given):
        raise HTTPException(status_code=403, detail="the form is stale or forged (CSRF token missing or wrong): "
                                                    "reload the page and try again")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return token


# ------------------------------------------------------------------ the app


def create_app(config: WebConfig) -> FastAPI:
    """The workspace over `config` (tests build one per temporary system of record)."""
    from assets.claims.review import ReviewQueue
    from connectors.audit import AuditLog
    from connectors.system_of_record import ClaimsSystem

    app = FastAPI(title="Claimflow workspace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.identity = IdentityStore(config.sor_url)
    app.state.audit = AuditLog(config.sor_url)
    app.state.system = ClaimsSystem(config.sor_url)
    app.state.queue = ReviewQueue(app.state.system, audit=app.state.audit, claim_timeout=config.claim_timeout_minutes)
    app.state.limiter = LoginLimiter()
    app.state.plots = {}
    app.state.verified, app.state.verified_at = None, None
    app.add_middleware(
        SessionMiddleware, secret_key=config.secret_key, session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600, same_site="strict", https_only=config.https,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = _when
    templates.env.filters["age"] = _age
    templates.env.filters["words"] = lambda s: str(s or "").replace("_", " ")
    templates.env.filters["num"] = _num
    templates.env.filters["pct"] = lambda x: "-" if x is None else f"{100 * float(x):.0f}%"

    @app.middleware("http")
    async def headers(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
        # Paths and status only: claim numbers are identifiers, never names, e-mails or bodies.
        log.info("%s %s %s %.0fms", request.method, request.url.path, response.status_code,
                 1000 * (time.perf_counter() - started))
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired):
        if "text/html" in request.headers.get("accept", "") and request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"detail": "sign in first"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="claimflow"'})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if "text/html" in request.headers.get("accept", ""):
            return page(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                        status=exc.status_code)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    def page(request: Request, name: str, context: dict, status: int = 200, user: User | None = None):
        context = {"user": user, "csrf": csrf_token(request), "oidc": config.oidc is not None, **context}
        return templates.TemplateResponse(request, name, context, status_code=status)

    def back(path: str, message: str | None = None, error: str | None = None) -> RedirectResponse:
        from urllib.parse import urlencode

        query = urlencode({k: v for k, v in (("msg", message), ("err", error)) if v})
        return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)

    # -------------------------------------------------------------- sign-in

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", err: str | None = None):
        return page(request, "login.html", {"next": safe_next(next), "error": err})

    @app.post("/login", dependencies=[Depends(csrf_protect)])
    def login(request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        limiter: LoginLimiter = app.state.limiter
        client = request.client.host if request.client else "unknown"
        keys = (f"user:{username.strip().lower()}", f"client:{client}")
        wait = limiter.retry_after(*keys)
        if wait > 0:
            return page(request, "login.html", {"next": safe_next(next), "error":
                        f"too many failed sign-ins: try again in {int(wait) + 1} s"}, status=429)
        try:
            user = app.state.identity.authenticate(username, password)
        except AuthError as err:
            limiter.failed(*keys)
            return page(request, "login.html", {"next": safe_next(next), "error": str(err)}, status=401)
        limiter.succeeded(*keys)
        return _start_session(request, user, "password", safe_next(next, _home_for(user)))

    def _start_session(request: Request, user: User, method: str, target: str) -> RedirectResponse:
        request.session.clear()  # a fresh session: nothing from before sign-in carries over
        request.session.update({"user": user.username, "csrf": new_csrf_token(), "at": int(time.time())})
        app.state.audit.append(actor=user.username, action="user.login", subject=user.username,
                               payload={"method": method})
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", dependencies=[Depends(csrf_protect)])
    def logout(request: Request, user: CurrentUser):
        app.state.audit.append(actor=user.username, action="user.logout", subject=user.username, payload={})
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    if config.oidc is not None:
        @app.get("/auth/oidc")
        def oidc_start(request: Request, next: str = "/"):
            url, state = config.oidc.authorization_url()
            request.session["oidc"] = {**state, "next": safe_next(next)}
            return RedirectResponse(url, status_code=303)

        @app.get("/auth/callback")
        def oidc_callback(request: Request, code: str = "", state: str = ""):
            pending = request.session.pop("oidc", None)
            try:
                claims = config.oidc.finish(code, state, pending)
                user = app.state.identity.user_for_oidc(claims["sub"], claims.get("preferred_username")
                                                        or claims.get("email", ""))
            except AuthError as err:
                return page(request, "login.html", {"next": "/", "error": str(err)}, status=401)
            return _start_session(request, user, "oidc", pending.get("next") or _home_for(user))

    @app.get("/")
    def home(user: CurrentUser):
        return RedirectResponse(_home_for(user), status_code=303)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    # -------------------------------------------------------------- review

    @app.get("/review", response_class=HTMLResponse)
    def review_list(request: Request, user: Annotated[User, Depends(require("review.read"))],
                    queue: str = "", rule: str = "", min_age: str = "", status: str = "open"):
        items = app.state.queue.list_items("all")
        wanted = {"open": ("waiting", "claimed")}.get(status, (status,))
        rows = [i for i in items if (status == "all" or i["status"] in wanted)
                and (not queue or i["suggested_queue"] == queue) and (not rule or i["rule"] == rule)]
        try:
            minimum = float(min_age) if min_age else None
        except ValueError:
            minimum = None
        if minimum is not None:
            rows = [i for i in rows if i["age_minutes"] >= minimum]
        context = {"items": rows, "queues": sorted({i["suggested_queue"] for i in items}),
                   "rules": sorted({i["rule"] for i in items}),
                   "filters": {"queue": queue, "rule": rule, "min_age": min_age, "status": status}}
        if request.headers.get("hx-request"):
            return page(request, "_review_rows.html", context, user=user)
        return page(request, "review_list.html", context, user=user)

    @app.get("/review/{claim_number}", response_class=HTMLResponse)
    def review_item(request: Request, claim_number: str, user: Annotated[User, Depends(require("review.read"))],
                    msg: str | None = None, err: str | None = None):
        from assets.claims.dossier import build_dossier
        from assets.claims.review import ReviewError
        from assets.claims.routing import WORK_QUEUES

        try:
            dossier = build_dossier(app.state.queue, claim_number, warehouse_path=config.warehouse_path,
                                    inbox_dir=config.inbox_dir, model_repository=config.model_repository)
        except ReviewError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        safe_html, blocked = (None, 0)
        if dossier.email and dossier.email.get("html"):
            safe_html, blocked = sanitize_email_html(dossier.email["html"])
        return page(request, "review_item.html", {
            "d": dossier, "email_html": safe_html, "blocked": blocked, "work_queues": WORK_QUEUES,
            "mine": dossier.item["status"] == "claimed" and dossier.item["claimed_by"] == user.username,
            "may_decide": user.may("review.decide"), "msg": msg, "err": err,
        }, user=user)

    def _act(claim_number: str, fn, done: str):
        from assets.claims.review import ReviewError

        try:
            fn()
        except ReviewError as error:
            return back(f"/review/{claim_number}", error=str(error))
        return back(f"/review/{claim_number}", message=done)

    @app.post("/review/{claim_number}/claim", dependencies=[Depends(csrf_protect)])
    def review_claim(claim_number: str, user: Decider):
        return _act(claim_number, lambda: app.state.queue.claim(claim_number, user.username), "claimed: it is yours")

    @app.post("/review/{claim_number}/release", dependencies=[Depends(csrf_protect)])
    def review_release(claim_number: str, user: Decider):
        return _act(claim_number, lambda: app.state.queue.release(claim_number, user.username),
                    "released back to the queue")

    @app.post("/review/{claim_number}/decide", dependencies=[Depends(csrf_protect)])
    def review_decide(claim_number: str, user: Decider, action: Annotated[str, Form()] = "",
                      queue: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
        return _act(claim_number, lambda: app.state.queue.decide(
            claim_number, user.username, action, queue=queue or None, reason=reason), f"decided: {action}")

    @app.post("/review/{claim_number}/correct", dependencies=[Depends(csrf_protect)])
    def review_correct(claim_number: str, user: Decider, field: Annotated[str, Form()] = "",
                       value: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
        return _act(claim_number, lambda: app.state.queue.correct_field(
            claim_number, user.username, field, value, reason), f"{field.replace('_', ' ')} corrected")

    @app.get("/photos/{claim_number}/{sha256}")
    def photo(claim_number: str, sha256: str, user: Annotated[User, Depends(require("review.read"))]):
        from connectors.attachments import AttachmentStore

        if config.attachments_dir is None or not sha256.isalnum():
            raise HTTPException(status_code=404, detail="no such photo")
        try:
            data = AttachmentStore(config.attachments_dir).get(sha256)
        except (FileNotFoundError, ValueError, OSError):
            raise HTTPException(status_code=404, detail="no such photo") from None
        kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg" if data[:3] == b"\xff\xd8\xff" else None
        if kind is None:
            raise HTTPException(status_code=415, detail="not a JPEG or PNG photo")
        return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})

    # -------------------------------------------------------------- models

    def _registry():
        from orchestration.commands import CliError
        from orchestration.commands.models import open_registry

        try:
            return open_registry(app.state.identity, uri=config.registry_uri), None
        except CliError as error:
            return None, str(error)

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, user: Annotated[User, Depends(require("models.read"))],
                    msg: str | None = None, err: str | None = None):
        registry, problem = _registry()
        versions, history = [], []
        if registry is not None:
            versions = registry.list_versions()
            history = registry.champion_history()
        drift = config.reports_dir is not None and (config.reports_dir / "drift_report.html").exists()
        return page(request, "models.html", {
            "versions": list(reversed(versions)), "history": list(reversed(history)), "problem": problem,
            "drift_report": drift, "mlflow": config.mlflow_ui_url, "may_approve": user.may("models.approve"),
            "msg": msg, "err": err, "gates": registry.policy.required_gates if registry else (),
        }, user=user)

    @app.post("/models/{version}/decision", dependencies=[Depends(csrf_protect)])
    def model_decision(version: int, user: Annotated[User, Depends(require("models.approve"))],
                       decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
        from models.registry import RegistryError

        if decision not in ("approve", "reject"):
            return back("/models", error="choose approve or reject")
        if not reason.strip():
            return back("/models", error="a reason is required")
        registry, problem = _registry()
        if registry is None:
            return back("/models", error=problem)
        try:
            (registry.approve if decision == "approve" else registry.reject)(version, user.username, reason)
        except RegistryError as error:
            return back("/models", error=str(error))
        return back("/models", message=f"version {version} {decision}d by {user.username}")

    @app.get("/reports/drift")
    def drift_report(user: Annotated[User, Depends(require("models.read"))]):
        path = config.reports_dir / "drift_report.html" if config.reports_dir else None
        if path is None or not path.exists():
            raise HTTPException(status_code=404, detail="no drift report yet (train a model first)")
        # Evidently's report runs its own scripts: sandboxed, it cannot reach the session or the page.
        return HTMLResponse(path.read_text(encoding="utf-8", errors="replace"),
                            headers={"Content-Security-Policy": "sandbox allow-scripts; default-src 'self' "
                                     "'unsafe-inline' 'unsafe-eval' data: blob:"})

    # -------------------------------------------------------------- monitoring

    @app.get("/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request, user: Annotated[User, Depends(require("monitoring.read"))]):
        from orchestration.web import monitoring as mon

        counts = app.state.system.counts()
        waiting = app.state.system.review_waiting()
        return page(request, "monitoring.html", {
            "counts": counts, "buckets": mon.age_buckets([w["age_minutes"] for w in waiting]),
            "kpis": mon.latest_kpis(config.warehouse_path), "today": datetime.now(UTC).date(),
            "tickets": mon.open_tickets(config.sor_url),
        }, user=user)

    @app.get("/monitoring/{name}.svg")
    def monitoring_plot(name: str, user: Annotated[User, Depends(require("monitoring.read"))]):
        from orchestration.web import monitoring as mon

        if name not in mon.PLOTS:
            raise HTTPException(status_code=404, detail="no such plot")
        cached = app.state.plots.get(name)
        if cached is None or time.monotonic() - cached[0] > 60:  # plots are recomputed once a minute
            registry, _ = _registry() if name == "drift" else (None, None)
            svg = mon.PLOTS[name](config, registry)
            cached = app.state.plots[name] = (time.monotonic(), svg)
        return Response(cached[1], media_type="image/svg+xml")

    # -------------------------------------------------------------- audit

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, user: Annotated[User, Depends(require("audit.read"))], claim: str = ""):
        log_ = app.state.audit
        checked_at, report = app.state.verified or (0.0, None)
        if report is None or time.monotonic() - checked_at > VERIFY_EVERY_SECONDS:
            report = log_.verify()  # walks the whole chain: done at most every 30 s, the page says when
            app.state.verified = (time.monotonic(), report)
            app.state.verified_at = datetime.now(UTC)
        entries = log_.entries(subject=claim.strip()) if claim.strip() else log_.entries()[-50:]
        return page(request, "audit.html", {"claim": claim.strip(), "entries": list(reversed(entries)),
                                            "report": report, "verified_at": app.state.verified_at}, user=user)

    # -------------------------------------------------------------- account and users

    @app.get("/account", response_class=HTMLResponse)
    def account(request: Request, user: CurrentUser):
        return page(request, "account.html", {"tokens": app.state.identity.tokens(user.username), "new_token": None},
                    user=user)

    @app.post("/account/tokens", dependencies=[Depends(csrf_protect)])
    def new_token(request: Request, user: CurrentUser, label: Annotated[str, Form()] = ""):
        try:
            token = app.state.identity.create_token(user.username, label)
        except AuthError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        app.state.audit.append(actor=user.username, action="user.token", subject=user.username,
                               payload={"label": label.strip()})
        return page(request, "account.html", {"tokens": app.state.identity.tokens(user.username),
                                              "new_token": token}, user=user)

    @app.get("/users", response_class=HTMLResponse)
    def users(request: Request, user: Admin, msg: str | None = None, err: str | None = None):
        return page(request, "users.html", {"users": app.state.identity.list_users(), "roles": ROLES,
                                            "msg": msg, "err": err}, user=user)

    @app.post("/users", dependencies=[Depends(csrf_protect)])
    async def add_user(request: Request, user: Admin):
        form = await request.form()
        try:
            added = app.state.identity.add_user(str(form.get("username", "")), str(form.get("display_name", "")),
                                                form.getlist("roles"), str(form.get("password", "")))
        except AuthError as error:
            return back("/users", error=str(error))
        app.state.audit.append(actor=user.username, action="user.add", subject=added.username,
                               payload={"roles": list(added.roles)})
        return back("/users", message=f"added {added.username}")

    @app.post("/users/{username}/disable", dependencies=[Depends(csrf_protect)])
    def disable_user(username: str, user: Admin):
        store = app.state.identity
        target = store.get(username)
        if target is None:
            return back("/users", error=f"no user {username}")
        if target.has_role("admin") and target.active and store.count(role="admin") == 1:
            return back("/users", error=f"{username} is the last active admin")
        store.disable(username)
        app.state.audit.append(actor=user.username, action="user.disable", subject=username, payload={})
        return back("/users", message=f"disabled {username}")

    return app


def _home_for(user: User) -> str:
    if user.may("review.decide"):
        return "/review"
    if user.may("models.approve"):
        return "/models"
    if user.may("users.manage"):
        return "/users"
    return "/review"


def _when(moment) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    return moment.strftime("%Y-%m-%d %H:%M")


def _num(value) -> str:
    """A feature value as a person reads it: whole numbers plain, others to two decimals, gaps as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    return str(value)


def _age(minutes) -> str:
    if minutes is None:
        return "-"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"
