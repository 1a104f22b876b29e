"""``python -m lettrage``: the same command line as the ``lettrage`` script (for a venv whose scripts
directory is not on PATH, or a cron line naming the interpreter)."""

from lettrage.cli import app

app(prog_name="lettrage")
