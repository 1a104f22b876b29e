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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from desk import actions, charts, notify, queries
from desk.cache import FigureCache
from desk.db import service, session
from desk.security import Signer, Throttle, csrf_ok, new_csrf_token
from desk.settings import COOKIE_NAME, DeskSettings, load_settings
from desk.users import Principal, authenticate, get_principal
from lettrage.errors import DataError, LettrageError
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
            user = get_principal(engine, str(sess["u"]))
        # (a cookie issued before the user signed out, or before a password reset, signs nobody in)
        return user if user is not None and int(sess.get("e") or 0) == user.session_epoch else None

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


def _as_user(desk: Desk, user: Principal, *, write: bool = False) -> Any:
    """The request's warehouse session, acting as the user's Postgres role when access control is set up."""
    return session(desk.settings.warehouse, write=write, principal=user, enforce=desk.settings.db_roles)


def _comments(engine: Any, entity: str, **key: str) -> list[dict[str, Any]]:
    with service(engine):  # the desk's own table; the entity was checked (and read as the user) before
        return actions.comments(engine, entity, **key)


def _assignees(engine: Any, entity: str) -> list[str]:
    from desk.users import list_users

    with service(engine):
        return [u["username"] for u in list_users(engine) if u["active"]
                and ("*" in str(u["entities"]).split(",") or entity in str(u["entities"]).split(","))]


def _local(target: str | None, prefix: str, fallback: str) -> str:
    """``target`` when it is a path of this site under ``prefix``, else ``fallback``.

    Redirect targets come from forms (``next``, ``back``); taking them as they come would make the
    desk an open redirect (``//evil.example`` is another host to a browser).
    """
    target = target or ""
    return target if target.startswith(prefix) and not target.startswith("//") else fallback


@contextmanager
def _refused(status: int) -> Iterator[None]:
    """An action's ``DataError`` is the person's input refused: answer ``status`` with its message, not a 500."""
    try:
        yield
    except DataError as exc:
        raise HTTPException(status, str(exc)) from exc


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
    nxt = _local(form.get("next"), "/", "/")
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
    # (new token: no fixation; e: the user's session epoch, which signing out raises)
    desk.set_session(request, response, {"u": user.username, "e": user.session_epoch, "c": new_csrf_token()})
    return response


async def logout(request: Request) -> Response:
    desk = _desk(request)
    form = await _form(request)
    sess = desk.session_of(request)
    if not csrf_ok(sess.get("c"), form.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token")
    if sess.get("u"):
        from desk.users import end_sessions

        def end() -> None:
            # (a cookie that still signs its user in: every copy of it stops working, not only the browser's; a
            # stolen one outlived signing out)
            if desk.principal(request, sess) is not None:
                with session(desk.settings.warehouse, write=True) as engine:
                    end_sessions(engine, str(sess["u"]))

        await run_in_threadpool(end)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# -- pages -------------------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)

    def load() -> list[str]:
        with _as_user(desk, user) as engine:
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


async def _entity_page(request: Request, template: str,
                       read: Callable[[Any, str], dict[str, Any]]) -> Response:
    """One entity's page: signed in, entity in scope (else 404), read as the user, rendered.

    ``read(engine, entity)`` runs in a worker thread on the user's connection (their Postgres role,
    so row-level security applies) and returns the template's context; it raises HTTPException for
    a row that is not there. ``done`` (the outcome of the action that redirected here) is passed on.
    """
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity = request.path_params["entity"]
    _scoped(desk, user, entity)

    def load() -> dict[str, Any]:
        with _as_user(desk, user) as engine:
            return {"entity": entity, **read(engine, entity)}

    ctx = await run_in_threadpool(load)
    return desk.render(request, template, {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def dashboard(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    entity = request.path_params["entity"]
    _scoped(desk, user, entity)
    picked = _parse_date(request.query_params.get("as_of"))

    def figures(engine: Any, version: str) -> dict[str, Any]:
        """Everything on the dashboard of ``entity`` (as the user, who sees the whole entity)."""
        last = queries.as_of(engine, entity)
        months = queries.month_ends(engine, entity)
        month_end = picked if picked and picked != last else None
        if month_end and month_end not in months:
            raise HTTPException(404, f"no month-end history for {month_end}")
        aged = queries.aged_balance(engine, entity, month_end)
        ctx = {
            "entity": entity, "last": last, "months": months, "month_end": month_end, "shown": month_end or last,
            "encours": queries.encours_by_status(engine, entity) if not month_end else [],
            "totals": queries.encours_total(engine, entity), "aged": aged,
            "dso": queries.dso_trend(engine, entity, month_end or last),
            "kpi": queries.kpis(engine, entity, month_end),
            "rate": queries.match_rate(engine, entity),
            "exceptions": queries.open_exceptions(engine, entity),
            "top": queries.top_overdue(engine, entity) if not month_end else [],
            "forecast": queries.cash_forecast(engine, entity) if not month_end else [],
            # keyed by the sync date, not the data version: past month ends whose horizon closed, a monthly
            # accuracy figure; recomputing it (two renders of the forecast mart per month) after every click
            # would cost seconds at a million invoices
            "backtest": desk.cache.soon((entity, "backtest", last), lambda: _backtest(desk, entity, last),
                                        desk.settings.slow_figure_wait_s),
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
        ctx["backtest_svg"] = charts.forecast_actual(ctx["backtest"]) if ctx["backtest"] is not None else ""
        return ctx

    def load() -> dict[str, Any]:
        t = time.perf_counter()
        with _as_user(desk, user) as engine:
            known = queries.entities(engine)
            if entity not in known:
                raise HTTPException(404, "not found")
            with service(engine):  # reconciliation bookkeeping: the desk's login, not the user's role
                version = queries.version(engine, entity)
            # every figure derives from the marts and matches, which change only with the version: a click,
            # a decision (which re-runs the reconciliation and the marts) or the nightly run changes the key
            key = (entity, "dashboard", picked, version)
            ctx = dict(desk.cache.get(key, lambda: figures(engine, version)))
            if ctx["backtest"] is None:  # still being computed: the next dashboard shows it
                ctx["backtest"] = desk.cache.soon((entity, "backtest", ctx["last"]),
                                                  lambda: _backtest(desk, entity, ctx["last"]), 0)
                ctx["backtest_svg"] = charts.forecast_actual(ctx["backtest"]) if ctx["backtest"] else ""
        ctx["scope"] = user.scope(known)
        ctx["elapsed_ms"] = (time.perf_counter() - t) * 1000
        return ctx

    ctx = await run_in_threadpool(load)
    return desk.render(request, "dashboard.html", {"user": user, **ctx}, sess=sess)


def _backtest(desk: Desk, entity: str, last: date | None) -> list[dict[str, Any]]:
    """The forecast back-test of ``entity`` on its own connection (a background thread of the cache).

    On the desk's login: the rows are filtered to ``entity``, whose dashboard the user was allowed to open.
    """
    with session(desk.settings.warehouse) as engine:
        return queries.forecast_vs_actual(engine, entity, last)


async def invoices(request: Request) -> Response:
    q = request.query_params

    def read(engine: Any, entity: str) -> dict[str, Any]:
        status, bucket, customer_id = q.get("status") or None, q.get("bucket") or None, q.get("customer") or None
        if status and status not in queries.OPEN_STATUSES or bucket and bucket not in queries.BUCKETS:
            raise HTTPException(400, "unknown status or bucket")
        page = _page(q.get("page"))
        on = queries.as_of(engine, entity) or date.today()
        rows = queries.open_items(engine, entity, on, status=status, bucket=bucket, customer_id=customer_id,
                                  limit=ITEMS_PAGE + 1, offset=page * ITEMS_PAGE)
        more = len(rows) > ITEMS_PAGE
        return {"rows": rows[:ITEMS_PAGE], "on": on, "status": status, "bucket": bucket,
                "customer": customer_id, "page": page, "pages": _pages(request, page, more)}

    return await _entity_page(request, "invoices.html", read)


PAGE = 100  # work-queue rows per page
ITEMS_PAGE = 200  # invoice rows per page


def _page(text: str | None) -> int:
    try:
        page = int(text) if text else 0
    except ValueError:
        raise HTTPException(400, "page must be a number") from None
    if not 0 <= page <= 10_000:
        raise HTTPException(400, "page out of range")
    return page


def _pages(request: Request, page: int, more: bool) -> dict[str, str | None]:
    """Links to the previous and next page, keeping the filters of the query string."""
    def link(n: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "page"}
        return f"{request.url.path}?{urlencode({**params, 'page': n})}"

    return {"prev": link(page - 1) if page > 0 else None, "next": link(page + 1) if more else None}


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
    mine = q.get("mine") == "1"
    page = _page(q.get("page"))

    def load() -> dict[str, Any]:
        t = time.perf_counter()
        with _as_user(desk, user) as engine:
            scope = user.scope(queries.entities(engine))
            chosen = [entity] if entity else scope
            on = max((queries.as_of(engine, e) or date.today() for e in chosen), default=date.today())
            if mine:  # disputes assigned to me or my department, instead of the reconciliation queue
                with service(engine):  # the decision log (readers too may be assigned); entities from RLS above
                    rows = actions.assigned_to(engine, chosen, username=user.username, department=user.department)
                kinds = []
            else:
                with service(engine):  # reconciliation bookkeeping: the desk's login
                    version = queries.versions(engine, chosen)
                # the queue changes only with the reconciliation (and the marts): cached by their version, like
                # the dashboard; who works on what is read afresh (a mark for the ERP changes no version)
                key = ("queue", tuple(chosen), kind, amin, amax, age, on, page, version)
                rows = [dict(r) for r in desk.cache.get(key, lambda: queries.queue(
                    engine, chosen, kind=kind, min_amount=amin, max_amount=amax, min_age_days=age, on=on,
                    limit=PAGE + 1, offset=page * PAGE))]
                kinds = desk.cache.get(("kinds", tuple(chosen), version), lambda: queries.queue_kinds(engine, chosen))
                actions.working_on(engine, rows)
        more = len(rows) > PAGE and not mine
        return {"rows": rows[:PAGE] if not mine else rows, "kinds": kinds, "scope": scope, "entity": entity,
                "kind": kind, "age": q.get("age", ""), "mine": mine, "page": page, "pages": _pages(request, page, more),
                "min": q.get("min", ""), "max": q.get("max", ""), "on": on,
                "elapsed_ms": (time.perf_counter() - t) * 1000}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "queue.html", {"user": user, **ctx}, sess=sess)


async def match_page(request: Request) -> Response:
    match_id = request.path_params["match_id"]

    def read(engine: Any, entity: str) -> dict[str, Any]:
        m = queries.match(engine, entity, match_id)
        if m is None:
            raise HTTPException(404, "not found")
        pay = queries.payment(engine, entity, m["payment_id"])
        return {"m": m, "payment": pay, "candidates": queries.payment_matches(engine, entity, m["payment_id"]),
                "inv": queries.invoice(engine, entity, m["invoice_id"]),
                "split_options": queries.split_options(engine, entity, pay)}

    return await _entity_page(request, "match.html", read)


async def decide(request: Request) -> Response:
    desk, sess, user, form = await _post_checks(request, "reviewer")
    entity, match_id = request.path_params["entity"], request.path_params["match_id"]
    verdict = form.get("verdict", "")
    if verdict not in ("confirm", "reject"):
        raise HTTPException(400, "verdict must be confirm or reject")

    def write() -> actions.Refresh | None:
        with _as_user(desk, user, write=True) as engine:
            if queries.match(engine, entity, match_id) is None:  # read as the user: RLS decides what exists
                raise HTTPException(404, "not found")
            with service(engine):
                with _refused(404):
                    actions.decide_match(engine, entity, match_id, verdict, user.username, form.get("reason") or None)
                return actions.refresh(engine, entity) if desk.settings.refresh_after_decision else None

    took = await run_in_threadpool(write)
    log.info("desk: %s %sed match %s of %s (%s)", user.username, verdict, match_id, entity, took)
    return RedirectResponse(f"/e/{entity}/match/{match_id}?done={verdict}", status_code=303)


async def exception_page(request: Request) -> Response:
    exc_id = request.path_params["exception_id"]

    def read(engine: Any, entity: str) -> dict[str, Any]:
        x = queries.exception(engine, entity, exc_id)
        if x is None:
            raise HTTPException(404, "not found")
        pay = queries.payment(engine, entity, x["payment_id"]) if x["payment_id"] else None
        cands = queries.payment_matches(engine, entity, x["payment_id"]) if x["payment_id"] else []
        inv = queries.invoice(engine, entity, x["invoice_id"]) if x["invoice_id"] else None
        options = queries.split_options(engine, entity, pay) if pay else []
        return {"x": x, "payment": pay, "candidates": cands, "inv": inv, "split_options": options}

    return await _entity_page(request, "exception.html", read)


async def customer_page(request: Request) -> Response:
    cid = request.path_params["customer_id"]

    def read(engine: Any, entity: str) -> dict[str, Any]:
        c = queries.customer(engine, entity, cid)
        if c is None:
            raise HTTPException(404, "not found")
        on = queries.as_of(engine, entity) or date.today()
        return {"c": c, "on": on,
                "items": queries.open_items(engine, entity, on, customer_id=cid),
                "behaviour": queries.customer_behaviour(engine, entity, cid),
                "exposure": queries.customer_exposure(engine, entity, cid),
                "reminders": queries.reminders(engine, entity, customer_id=cid),
                "decisions": queries.decisions(engine, entity, customer_id=cid),
                "comments": _comments(engine, entity, customer_id=cid)}

    return await _entity_page(request, "customer.html", read)


async def invoice_page(request: Request) -> Response:
    iid = request.path_params["invoice_id"]

    def read(engine: Any, entity: str) -> dict[str, Any]:
        from warehouse.access.audit import invoice_history

        inv = queries.invoice(engine, entity, iid)
        if inv is None:
            raise HTTPException(404, "not found")
        ctx = {"inv": inv, "story": invoice_history(engine, entity, iid),
               "matches": queries.invoice_matches(engine, entity, iid),
               "decisions": queries.decisions(engine, entity, invoice_id=iid),
               "comments": _comments(engine, entity, invoice_id=iid),
               "assignees": _assignees(engine, entity), "today": date.today()}
        with service(engine):  # the invoice's state on the desk, for every role that may open the invoice
            ctx["write_off_pending"] = queries.pending_write_off(engine, entity, iid)
            ctx["assigned"] = actions.assigned_dispute(engine, entity, iid)
        return ctx

    return await _entity_page(request, "invoice.html", read)


INVOICE_ACTIONS = {"comment": "reviewer", "dispute": "credit_controller", "promise": "credit_controller",
                   "writeoff": "credit_controller", "writeoff-approve": "admin", "writeoff-decline": "admin"}


async def invoice_action(request: Request) -> Response:
    action = request.path_params["action"]
    role = INVOICE_ACTIONS.get(action)
    if role is None:
        raise HTTPException(404, "not found")
    desk, sess, user, form = await _post_checks(request, role)
    entity, iid = request.path_params["entity"], request.path_params["invoice_id"]

    def write() -> list[str]:
        with _as_user(desk, user, write=True) as engine:
            inv = queries.invoice(engine, entity, iid)  # as the user: row-level security decides what exists
            if inv is None:
                raise HTTPException(404, "not found")
            with service(engine):
                notices: list[str] = []
                with _refused(400):
                    if action == "comment":
                        note = actions.comment(engine, entity, author=user.username, body=form.get("body", ""),
                                               invoice_id=iid, customer_id=inv["customer_id"])
                        notices = notify.on_comment(engine, note, inv, desk.settings.base_url)
                    elif action == "dispute":
                        d = actions.dispute(engine, entity, iid, reason=form.get("reason", ""),
                                            department=form.get("department", ""), actor=user.username,
                                            assignee=form.get("assignee") or None)
                        notices = notify.on_dispute(engine, d, inv, desk.settings.base_url)
                    elif action == "writeoff":
                        actions.request_write_off(engine, entity, iid, reason=form.get("reason", ""),
                                                  actor=user.username, amount=_decimal(form.get("amount")))
                    elif action in ("writeoff-approve", "writeoff-decline"):
                        actions.settle_write_off(engine, entity, iid, approve=action == "writeoff-approve",
                                                 actor=user.username, reason=form.get("reason") or None)
                    else:
                        promised = _parse_date(form.get("promised_on"))
                        if promised is None:
                            raise DataError("a promise to pay needs a date")
                        actions.promise(engine, entity, iid, promised_on=promised, actor=user.username,
                                        reason=form.get("reason") or None)
                if action != "comment" and desk.settings.refresh_after_decision:
                    actions.refresh(engine, entity)
                if notices:
                    _deliver(desk, engine, entity)
                return notices

    await run_in_threadpool(write)
    return RedirectResponse(f"/e/{entity}/invoice/{iid}?done={action}", status_code=303)


def _deliver(desk: Desk, engine: Any, entity: str) -> None:
    """Send the notices just recorded; a failure leaves them in the outbox for the next delivery."""
    try:
        notify.deliver(engine, entity, desk.settings.smtp)
    except (LettrageError, OSError) as exc:  # never lose the decision for a mail server: the outbox keeps it
        log.warning("desk: notices of %s left in the outbox: %s", entity, exc)


def _parts(form: dict[str, str]) -> list[tuple[str, Decimal]]:
    """``amount:<invoice_id>`` fields with a value, plus the free ``extra_invoice``/``extra_amount`` row."""
    parts = [(k.split(":", 1)[1], _decimal(v)) for k, v in form.items() if k.startswith("amount:") and v.strip()]
    if form.get("extra_invoice", "").strip() and form.get("extra_amount", "").strip():
        parts.append((form["extra_invoice"].strip(), _decimal(form["extra_amount"])))
    return [(i, a) for i, a in parts if a is not None]


async def split(request: Request) -> Response:
    desk, _sess, user, form = await _post_checks(request, "reviewer")
    entity, payment_id = request.path_params["entity"], request.path_params["payment_id"]
    parts = _parts(form)
    back = _local(form.get("back"), f"/e/{entity}/", f"/e/{entity}")

    def write() -> None:
        with _as_user(desk, user, write=True) as engine:
            if queries.payment(engine, entity, payment_id) is None:
                raise HTTPException(404, "not found")
            with service(engine):
                with _refused(400):
                    actions.split_payment(engine, entity, payment_id, parts, user.username, form.get("reason") or None)
                if desk.settings.refresh_after_decision:
                    actions.refresh(engine, entity)

    await run_in_threadpool(write)
    log.info("desk: %s split payment %s of %s across %d invoice(s)", user.username, payment_id, entity, len(parts))
    return RedirectResponse(f"{back}?done=split", status_code=303)


async def erp_mark(request: Request) -> Response:
    desk, _sess, user, form = await _post_checks(request, "reviewer")
    entity = request.path_params["entity"]
    target = {k: form.get(k) or None for k in ("match_id", "exception_id", "invoice_id", "payment_id")}
    back = _local(form.get("back"), f"/e/{entity}/", "/erp")

    def write() -> None:
        with _as_user(desk, user, write=True) as engine:
            seen = ((target["match_id"] and queries.match(engine, entity, target["match_id"]))
                    or (target["exception_id"] and queries.exception(engine, entity, target["exception_id"]))
                    or (target["invoice_id"] and queries.invoice(engine, entity, target["invoice_id"]))
                    or (target["payment_id"] and queries.payment(engine, entity, target["payment_id"])))
            if not seen:
                raise HTTPException(404, "not found")
            with service(engine), _refused(400):
                actions.mark_for_erp(engine, entity, actor=user.username, reason=form.get("reason", ""), **target)

    await run_in_threadpool(write)
    return RedirectResponse(f"{back}?done=erp", status_code=303)


async def erp_list(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    only = request.query_params.get("entity")
    if only:  # one entity's list: out of scope is 404, as every entity URL
        _scoped(desk, user, only)

    def load() -> dict[str, Any]:
        with _as_user(desk, user) as engine:
            scope = [only] if only else user.scope(queries.entities(engine))
            with service(engine):  # decision rows: page-scoped on the desk's login (readers see the list too)
                return {"rows": actions.erp_queue(engine, scope), "scope": scope}

    ctx = await run_in_threadpool(load)
    if request.url.path.endswith(".csv"):
        import csv
        import io

        out = io.StringIO()
        cols = ["created_at", "entity", "actor", "reason", "invoice_number", "invoice_id", "payment_id", "match_id",
                "exception_id", "amount"]
        w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(ctx["rows"])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="erp-corrections.csv"', "Cache-Control": "no-store"})
    return desk.render(request, "erp.html", {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def admin_users(request: Request) -> Response:
    desk, sess, user = await run_in_threadpool(_need_user, request)
    if not user.can("admin"):
        raise HTTPException(403, "only an admin manages users")

    def load() -> dict[str, Any]:
        from desk.users import audit_log, list_users

        with session(desk.settings.warehouse) as engine:
            # an admin of some entities sees and manages the users within them, and their history, only
            users = [u for u in list_users(engine) if user.covers(str(u["entities"]))]
            names = {str(u["username"]) for u in users} | {user.username}
            log = [r for r in audit_log(engine) if r["target"] in names]
            return {"users": users, "log": log, "known": user.scope(queries.entities(engine))}

    ctx = await run_in_threadpool(load)
    return desk.render(request, "admin.html", {"user": user, "done": request.query_params.get("done"), **ctx},
                       sess=sess)


async def admin_save_user(request: Request) -> Response:
    desk, sess, user, form = await _post_checks(request, "admin")
    from desk.users import add_user, find_user

    def write() -> str:
        with session(desk.settings.warehouse, write=True) as engine:
            # an admin gives only what its own scope covers, to users within it (itself included)
            name = form.get("username", "").strip().lower()
            current = find_user(engine, name) if name else None
            if not user.covers(form.get("entities", "")) or (current and not user.covers(str(current["entities"]))):
                raise HTTPException(403, "an admin gives and manages only the entities of its own scope")
            with _refused(400):
                saved = add_user(engine, form.get("username", ""), role=form.get("role", ""),
                                 entities=form.get("entities", "").split(","), password=form.get("password") or None,
                                 display_name=form.get("display_name") or None, actor=user.username,
                                 keep_password=True, email=form.get("email") or None,
                                 department=form.get("department") or None)
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
        Route("/e/{entity}/payment/{payment_id}/split", split, methods=["POST"]),
        Route("/e/{entity}/erp", erp_mark, methods=["POST"]),
        Route("/erp", erp_list), Route("/erp.csv", erp_list),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.desk = Desk(settings)
    return app
