"""The finance desk: a server-rendered web app on the warehouse (``lettrage desk``).

    app.py        routes, sign-in, CSRF, scope and role checks
    queries.py    every figure and row shown, scoped by entity in SQL
    actions.py    confirm/reject/dispute/promise/comment through the decision log, then refresh
    users.py      desk_user accounts, roles and per-entity scope
    security.py   scrypt passwords, signed cookies, CSRF tokens, throttling
    charts.py     inline SVG charts
    db.py         one brief warehouse connection per request (the seam for per-user SET ROLE)
    cache.py      figures that scan large tables, keyed by the entity's data version
    indexes.py    the indexes the pages need on Postgres, created by ``lettrage desk``
"""

from __future__ import annotations

from desk.app import create_app
from desk.settings import DeskSettings, load_settings
from desk.users import ROLES, Principal, add_user

__all__ = ["ROLES", "DeskSettings", "Principal", "add_user", "create_app", "load_settings"]
