"""`huoban dispatch ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="On-site dispatch: plans, engineers and coverage.", no_args_is_help=True)
