"""The finance desk: a server-rendered web app on the warehouse (``lettrage desk``).

    app.py        routes, sign-in, CSRF, scope and role checks
    queries.py    every figure and row shown, scoped by entity in SQL
    actions.py    confirm/reject/split/ERP mark/dispute/promise/write-off request/comment through the
                  decision log, then refresh; "assigned to me" and who works on what
    notify.py     e-mail notices of assignments and comments through the dunning outbox
    users.py      desk_user accounts, roles and per-entity scope
    security.py   scrypt passwords, signed cookies, CSRF tokens, throttling
    charts.py     inline SVG charts
    db.py         one brief warehouse connection per request, acting as the user's Postgres role (RLS)
    cache.py      figures that scan large tables, keyed by the entity's data version
    indexes.py    the indexes the pages need on Postgres, created by ``lettrage desk``
"""

from __future__ import annotations

from desk.app import create_app
from desk.settings import DeskSettings, load_settings
from desk.users import ROLES, Principal, add_user

__all__ = ["ROLES", "DeskSettings", "Principal", "add_user", "create_app", "load_settings"]
