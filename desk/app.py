"""The desk's Starlette application: routes, sign-in, CSRF and scope checks.

Every request opens the warehouse briefly (:mod:`desk.db`) and looks the user up
again, so a revoked user or a narrowed scope takes effect on the next click.
Checks run in one order on every route: signed in (else to the sign-in page),
entity in scope (else 404 — another entity's URL does not even exist for the
user), CSRF token (else 403), role (else 403).
"""

from __future__ import annotations

import logging
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from desk import actions, charts, queries
from desk.cache import FigureCache
from desk.db import session
from desk.security import Signer, Throttle, csrf_ok, new_csrf_token
from desk.settings import COOKIE_NAME, DeskSettings, load_settings
from desk.users import Principal, authenticate, get_principal
from lettrage.errors import DataError
from lettrage.logging import mask_tail, mask_text

log = logging.getLogger("lettrage.desk")
HERE = Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024


class Desk:
    """Settings, signer, throttle and templates of one app instance (no module globals)."""

    def __init__(self, settings: DeskSettings) -> None:
        self.settings = settings
        self.signer = Signer(settings.secret)
        # Per user name: the lock of the issue (5 failures). Per client address: a looser net against
        # guessing across many names, loose enough for an office behind one NAT address.
        self.throttle = Throttle(max_failures=settings.max_failures, window_s=settings.lock_seconds)
        self.ip_throttle = Throttle(max_failures=settings.max_failures * 10, window_s=settings.lock_seconds)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters["money"] = _money
        env.filters["pct"] = lambda v: "–" if v is None else f"{Decimal(v) * 100:.1f} %"
        env.filters["iban"] = lambda v: mask_tail(str(v)) if v else "–"
        env.globals["BUCKETS"] = queries.BUCKETS
        env.globals["BUCKET_LABELS"] = charts.BUCKET_LABELS
        env.globals["DEPARTMENTS"] = actions.DEPARTMENTS
        self.cache = FigureCache()

    # -- session ---------------------------------------------------------------------------------
    def session_of(self, request: Request) -> dict[str, Any]:
        data = self.signer.loads(request.cookies.get(COOKIE_NAME))
        return data or {}

    def secure(self, request: Request) -> bool:
        if self.settings.secure_cookies is not None:
            return self.settings.secure_cookies
        proto = request.headers.get("x-forwarded-proto", "") if self.settings.trust_forwarded_proto else ""
        return request.url.scheme == "https" or proto.split(",")[0].strip().lower() == "https"

    def set_session(self, request: Request, response: Response, data: dict[str, Any]) -> None:
        response.set_cookie(COOKIE_NAME, self.signer.dumps({k: v for k, v in data.items() if k != "exp"}),
                            httponly=True, samesite="lax", secure=self.secure(request), path="/")

    def principal(self, request: Request, sess: dict[str, Any]) -> Principal | None:
        header = self.settings.sso_header
        if header and request.headers.get(header):
            with session(self.settings.warehouse) as engine:
                return get_principal(engine, request.headers[header])
        if not sess.get("u"):
            return None
        with session(self.settings.warehouse) as engine:
            return get_principal(engine, str(sess["u"]))

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200,
               sess: dict[str, Any] | None = None) -> Response:
        sess = dict(sess if sess is not None else self.session_of(request))
        fresh = "c" not in sess
        if fresh:
            sess["c"] = new_csrf_token()
        user: Principal | None = context.get("user")
        entitled = bool(user and user.can("credit_controller"))
        ctx = {"request": request, "csrf": sess["c"], "user": user,
               "free": (lambda t: "" if t is None else (str(t) if entitled else mask_text(str(t)))),
               "email": (lambda e: "–" if not e else (e if entitled else mask_text(str(e)))), **context}
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        if fresh:
            self.set_session(request, response, sess)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'"
        response.headers["Referrer-Policy"] = "same-origin"
        return response


def _money(value: Any) -> str:
    if value is None:
        return "–"
    return f"{Decimal(value):,.2f}".replace(",", "\u202f")


async def _form(request: Request) -> dict[str, str]:
    """URL-encoded form fields (no multipart: the desk's forms are small and text only)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _desk(request: Request) -> Desk:
    return request.app.state.desk  # type: ignore[no-any-return]


def _need_user(request: Request) -> tuple[Desk, dict[str, Any], Principal]:
    desk = _desk(request)
    sess = desk.session_of(request)
    user = desk.principal(request, sess)
    if user is None:
        raise HTTPException(303, headers={"Location": "/login?" + urlencode({"next": request.url.path})})
    return desk, sess, user


def _scoped(desk: Desk, user: Principal, entity: str) -> None:
    """404 for an entity outside the user's scope, exactly as for one that does not exist."""
    if not user.sees(entity):
        raise HTTPException(404, "not found")


async def _post_checks(request: Request, role: str) -> tuple[Desk, dict[str, Any], Principal, dict[str, str]]:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity = request.path_params.get("entity")
    if entity:
        _scoped(desk, user, entity)
    form = await _form(request)
    if not csrf_ok(sess.get("c"), form.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    if not user.can(role):
        raise HTTPException(403, f"your role ({user.role}) may not do this; it needs {role} or above")
    return desk, sess, user, form


# -- sign-in ---------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    desk = _desk(request)
    return desk.render(request, "login.html", {"next": request.query_params.get("next", "/"), "error": None})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    desk = _desk(request)
    sess = desk.session_of(request)
    form = await _form(request)
    nxt = form.get("next") or "/"
    nxt = nxt if nxt.startswith("/") and not nxt.startswith("//") else "/"
    if not csrf_ok(sess.get("c"), form.get("csrf")):
        return desk.render(request, "login.html", {"next": nxt, "error": "Your sign-in form expired; try again."},
                           status=403)
    username = form.get("username", "").strip().lower()
    ip = _client(request)
    if desk.throttle.blocked(username) or desk.ip_throttle.blocked(ip):
        return desk.render(request, "login.html", {"next": nxt, "error": "Too many failed sign-ins: wait 15 minutes."},
                           status=429, sess=sess)

    def check() -> tuple[Principal | None, str]:
        with session(desk.settings.warehouse, write=True) as engine:
            return authenticate(engine, username, form.get("password", ""), max_failures=desk.settings.max_failures,
                                lock_seconds=desk.settings.lock_seconds)

    user, why = await run_in_threadpool(check)
    if user is None:
        desk.throttle.fail(username)
        desk.ip_throttle.fail(ip)
        locked = why == "locked" or desk.throttle.blocked(username) or desk.ip_throttle.blocked(ip)
        log.warning("desk sign-in refused for %s from %s (%s)", username, _client(request), why)
        return desk.render(request, "login.html", {
            "next": nxt, "error": "Too many failed sign-ins: wait 15 minutes." if locked
            else "Wrong user name or password."}, status=429 if locked else 401, sess=sess)
    desk.throttle.reset(username)
    log.info("desk sign-in of %s (%s)", user.username, user.role)
    response = RedirectResponse(nxt, status_code=303)
    desk.set_session(request, response, {"u": user.username, "c": new_csrf_token()})  # new token: no fixation
    return response


async def logout(request: Request) -> Response:
    desk = _desk(request)
    form = await _form(request)
    if not csrf_ok(desk.session_of(request).get("c"), form.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# -- pages -------------------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)

    def load() -> list[str]:
        with session(desk.settings.warehouse) as engine:
            return user.scope(queries.entities(engine))

    scope = await run_in_threadpool(load)
    if not scope:
        return desk.render(request, "error.html", {"user": user, "message": "No entity in your scope has data yet."},
                           sess=sess)
    return RedirectResponse(f"/e/{scope[0]}", status_code=303)


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise HTTPException(400, f"not a date: {text!r} (expected YYYY-MM-DD)") from None


async def dashboard(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity = request.path_params["entity"]
    _scoped(desk, user, entity)
    picked = _parse_date(request.query_params.get("as_of"))

    def load() -> dict[str, Any]:
        t = time.perf_counter()
        with session(desk.settings.warehouse) as engine:
            known = queries.entities(engine)
            if entity not in known:
                raise HTTPException(404, "not found")
            last = queries.as_of(engine, entity)
            months = queries.month_ends(engine, entity)
            month_end = picked if picked and picked != last else None
            if month_end and month_end not in months:
                raise HTTPException(404, f"no month-end history for {month_end}")
            aged = queries.aged_balance(engine, entity, month_end)
            ctx = {
                "entity": entity, "scope": user.scope(known), "last": last, "months": months,
                "month_end": month_end, "shown": month_end or last,
                "encours": queries.encours_by_status(engine, entity) if not month_end else [],
                "totals": queries.encours_total(engine, entity), "aged": aged,
                "dso": queries.dso_trend(engine, entity, month_end or last),
                "kpi": queries.kpis(engine, entity, month_end),
                "rate": desk.cache.get((entity, "match_rate", queries.version(engine, entity)),
                                       lambda: queries.match_rate(engine, entity)),
                "exceptions": queries.open_exceptions(engine, entity),
                "top": queries.top_overdue(engine, entity) if not month_end else [],
                "forecast": queries.cash_forecast(engine, entity) if not month_end else [],
            }
        by_cur: dict[str, dict[str, Decimal]] = {}
        for r in aged:
            by_cur.setdefault(r["currency"], {})[r["bucket"]] = Decimal(r["amount"] or 0)
        base = f"/e/{entity}/invoices"
        ctx["aged_svg"] = charts.stacked_bar([
            (cur, [charts.Segment(b, amounts.get(b, Decimal(0)), f"{base}?{urlencode({'bucket': b})}")
                   for b in queries.BUCKETS]) for cur, amounts in sorted(by_cur.items())])
        ctx["aged_table"] = by_cur
        ctx["dso_svg"] = charts.line_chart(
            [(str(r["month_end"]), r["dso_countback"]) for r in ctx["dso"]],
            href_for={str(r["month_end"]): f"/e/{entity}?as_of={r['month_end']}" for r in ctx["dso"]})
        ctx["elapsed_ms"] = (time.perf_counter() - t) * 1000
        return ctx

    ctx = await run_in_threadpool(load)
    return desk.render(request, "dashboard.html", {"user": user, **ctx}, sess=sess)


async def invoices(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity = request.path_params["entity"]
    _scoped(desk, user, entity)
    q = request.query_params
    status, bucket, customer_id = q.get("status") or None, q.get("bucket") or None, q.get("customer") or None
    if status and status not in queries.OPEN_STATUSES or bucket and bucket not in queries.BUCKETS:
        raise HTTPException(400, "unknown status or bucket")

    def load() -> dict[str, Any]:
        with session(desk.settings.warehouse) as engine:
            on = queries.as_of(engine, entity) or date.today()
            rows = queries.open_items(engine, entity, on, status=status, bucket=bucket, customer_id=customer_id)
        return {"entity": entity, "rows": rows, "on": on, "status": status, "bucket": bucket, "customer": customer_id}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "invoices.html", {"user": user, **ctx}, sess=sess)


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        raise HTTPException(400, f"not an amount: {text!r}") from None


async def work_queue(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    q = request.query_params
    entity = q.get("entity") or None
    if entity:
        _scoped(desk, user, entity)
    kind = q.get("kind") or None
    try:
        age = int(q["age"]) if q.get("age") else None
    except ValueError:
        raise HTTPException(400, "age must be a number of days") from None
    amin, amax = _decimal(q.get("min")), _decimal(q.get("max"))

    def load() -> dict[str, Any]:
        t = time.perf_counter()
        with session(desk.settings.warehouse) as engine:
            scope = user.scope(queries.entities(engine))
            chosen = [entity] if entity else scope
            on = max((queries.as_of(engine, e) or date.today() for e in chosen), default=date.today())
            rows = queries.queue(engine, chosen, kind=kind, min_amount=amin, max_amount=amax, min_age_days=age, on=on)
            kinds = queries.queue_kinds(engine, chosen)
        return {"rows": rows, "kinds": kinds, "scope": scope, "entity": entity, "kind": kind, "age": q.get("age", ""),
                "min": q.get("min", ""), "max": q.get("max", ""), "on": on,
                "elapsed_ms": (time.perf_counter() - t) * 1000}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "queue.html", {"user": user, **ctx}, sess=sess)


async def match_page(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity, match_id = request.path_params["entity"], request.path_params["match_id"]
    _scoped(desk, user, entity)

    def load() -> dict[str, Any]:
        with session(desk.settings.warehouse) as engine:
            m = queries.match(engine, entity, match_id)
            if m is None:
                raise HTTPException(404, "not found")
            return {"entity": entity, "m": m, "payment": queries.payment(engine, entity, m["payment_id"]),
                    "candidates": queries.payment_matches(engine, entity, m["payment_id"]),
                    "inv": queries.invoice(engine, entity, m["invoice_id"])}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "match.html", {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def decide(request: Request) -> Response:
    desk, sess, user, form = await _post_checks(request, "reviewer")
    entity, match_id = request.path_params["entity"], request.path_params["match_id"]
    verdict = form.get("verdict", "")
    if verdict not in ("confirm", "reject"):
        raise HTTPException(400, "verdict must be confirm or reject")

    def write() -> actions.Refresh | None:
        with session(desk.settings.warehouse, write=True) as engine:
            try:
                actions.decide_match(engine, entity, match_id, verdict, user.username, form.get("reason") or None)
            except DataError as exc:
                raise HTTPException(404, str(exc)) from exc
            return actions.refresh(engine, entity) if desk.settings.refresh_after_decision else None

    took = await run_in_threadpool(write)
    log.info("desk: %s %sed match %s of %s (%s)", user.username, verdict, match_id, entity, took)
    return RedirectResponse(f"/e/{entity}/match/{match_id}?done={verdict}", status_code=303)


async def exception_page(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity, exc_id = request.path_params["entity"], request.path_params["exception_id"]
    _scoped(desk, user, entity)

    def load() -> dict[str, Any]:
        with session(desk.settings.warehouse) as engine:
            x = queries.exception(engine, entity, exc_id)
            if x is None:
                raise HTTPException(404, "not found")
            pay = queries.payment(engine, entity, x["payment_id"]) if x["payment_id"] else None
            cands = queries.payment_matches(engine, entity, x["payment_id"]) if x["payment_id"] else []
            inv = queries.invoice(engine, entity, x["invoice_id"]) if x["invoice_id"] else None
        return {"entity": entity, "x": x, "payment": pay, "candidates": cands, "inv": inv}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "exception.html", {"user": user, **ctx}, sess=sess)


async def customer_page(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity, cid = request.path_params["entity"], request.path_params["customer_id"]
    _scoped(desk, user, entity)

    def load() -> dict[str, Any]:
        with session(desk.settings.warehouse) as engine:
            c = queries.customer(engine, entity, cid)
            if c is None:
                raise HTTPException(404, "not found")
            on = queries.as_of(engine, entity) or date.today()
            return {"entity": entity, "c": c, "on": on,
                    "items": queries.open_items(engine, entity, on, customer_id=cid),
                    "behaviour": queries.customer_behaviour(engine, entity, cid),
                    "exposure": queries.customer_exposure(engine, entity, cid),
                    "reminders": queries.reminders(engine, entity, customer_id=cid),
                    "decisions": queries.decisions(engine, entity, customer_id=cid),
                    "comments": actions.comments(engine, entity, customer_id=cid)}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "customer.html", {"user": user, **ctx}, sess=sess)


async def invoice_page(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity, iid = request.path_params["entity"], request.path_params["invoice_id"]
    _scoped(desk, user, entity)

    def load() -> dict[str, Any]:
        from warehouse.access.audit import invoice_history

        with session(desk.settings.warehouse) as engine:
            inv = queries.invoice(engine, entity, iid)
            if inv is None:
                raise HTTPException(404, "not found")
            return {"entity": entity, "inv": inv, "story": invoice_history(engine, entity, iid),
                    "matches": queries.invoice_matches(engine, entity, iid),
                    "decisions": queries.decisions(engine, entity, invoice_id=iid),
                    "comments": actions.comments(engine, entity, invoice_id=iid),
                    "today": date.today()}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "invoice.html", {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def invoice_action(request: Request) -> Response:
    action = request.path_params["action"]
    role = {"comment": "reviewer", "dispute": "credit_controller", "promise": "credit_controller"}.get(action)
    if role is None:
        raise HTTPException(404, "not found")
    desk, sess, user, form = await _post_checks(request, role)
    entity, iid = request.path_params["entity"], request.path_params["invoice_id"]

    def write() -> None:
        with session(desk.settings.warehouse, write=True) as engine:
            try:
                if action == "comment":
                    inv = queries.invoice(engine, entity, iid)
                    if inv is None:
                        raise DataError(f"no invoice {iid!r} in {entity}")
                    actions.comment(engine, entity, author=user.username, body=form.get("body", ""), invoice_id=iid,
                                    customer_id=inv["customer_id"])
                    return
                if action == "dispute":
                    actions.dispute(engine, entity, iid, reason=form.get("reason", ""),
                                    department=form.get("department", ""), actor=user.username)
                else:
                    promised = _parse_date(form.get("promised_on"))
                    if promised is None:
                        raise DataError("a promise to pay needs a date")
                    actions.promise(engine, entity, iid, promised_on=promised, actor=user.username,
                                    reason=form.get("reason") or None)
            except DataError as exc:
                raise HTTPException(400, str(exc)) from exc
            if desk.settings.refresh_after_decision:
                actions.refresh(engine, entity)

    await run_in_threadpool(write)
    return RedirectResponse(f"/e/{entity}/invoice/{iid}?done={action}", status_code=303)


async def admin_users(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    if not user.can("admin"):
        raise HTTPException(403, "only an admin manages users")

    def load() -> dict[str, Any]:
        from desk.users import audit_log, list_users

        with session(desk.settings.warehouse) as engine:
            return {"users": list_users(engine), "log": audit_log(engine), "known": queries.entities(engine)}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "admin.html", {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def admin_save_user(request: Request) -> Response:
    desk, sess, user, form = await _post_checks(request, "admin")
    from desk.users import add_user

    def write() -> str:
        with session(desk.settings.warehouse, write=True) as engine:
            try:
                saved = add_user(engine, form.get("username", ""), role=form.get("role", ""),
                                 entities=form.get("entities", "").split(","), password=form.get("password") or None,
                                 display_name=form.get("display_name") or None, actor=user.username,
                                 keep_password=True)
            except DataError as exc:
                raise HTTPException(400, str(exc)) from exc
            return saved.username

    saved = await run_in_threadpool(write)
    log.info("desk: admin %s saved user %s", user.username, saved)
    return RedirectResponse(f"/admin/users?{urlencode({'done': saved})}", status_code=303)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (301, 302, 303, 307) and exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
    desk = _desk(request)
    sess = desk.session_of(request)
    try:
        user = desk.principal(request, sess)
    except Exception:  # the error page must render even when the warehouse is down
        user = None
    return desk.render(request, "error.html", {"user": user, "message": exc.detail, "status": exc.status_code},
                       status=exc.status_code, sess=sess)


def create_app(settings: DeskSettings | None = None) -> Starlette:
    """The ASGI app; ``settings`` default to the environment (``LETTRAGE__*``)."""
    settings = settings or load_settings()
    routes = [
        Route("/", home), Route("/healthz", healthz),
        Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", work_queue),
        Route("/admin/users", admin_users, methods=["GET"]), Route("/admin/users", admin_save_user, methods=["POST"]),
        Route("/e/{entity}", dashboard), Route("/e/{entity}/invoices", invoices),
        Route("/e/{entity}/match/{match_id}", match_page, methods=["GET"]),
        Route("/e/{entity}/match/{match_id}", decide, methods=["POST"]),
        Route("/e/{entity}/exception/{exception_id}", exception_page),
        Route("/e/{entity}/customer/{customer_id}", customer_page),
        Route("/e/{entity}/invoice/{invoice_id}", invoice_page, methods=["GET"]),
        Route("/e/{entity}/invoice/{invoice_id}/{action}", invoice_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.desk = Desk(settings)
    return app
