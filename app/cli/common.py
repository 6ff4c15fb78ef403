"""What every ``slotbandit`` command shares: the one-line error, settings, a connection, a period."""
from __future__ import annotations

import sys
from datetime import datetime, timezone, tzinfo
from typing import Optional, Tuple

import click

from app.clock import MomentError, parse_moment, parse_window
from app.settings import Settings, SettingsError


class CliError(click.ClickException):
    """One line on stderr, exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"slotbandit: {self.message}", err=True)


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise CliError(str(error)) from None


def connect(settings: Settings):
    """A connected ``Database`` or a one-line explanation of why not."""
    from app.storage.db import CONNECT_ERRORS, UNREACHABLE, Database, one_line

    db = Database(settings)
    where = f"{','.join(settings.contact_points)}:{settings.cassandra_port}"
    try:
        db.connect()
    except CONNECT_ERRORS as error:
        # The driver reports an unknown keyspace as NoHostAvailable("... using keyspace '...'").
        if "keyspace" in str(error).lower():
            raise CliError(f"keyspace {settings.keyspace!r} does not exist: run `slotbandit schema apply`") from None
        if not isinstance(error, UNREACHABLE):  # the keyspace or the query was refused
            raise CliError(one_line(error)) from None
        hint = "start it with `slotbandit cassandra start`" if settings.embedded else "check CASSANDRA_HOSTS"
        raise CliError(f"cannot reach Cassandra at {where}: {hint}") from None
    except Exception as error:
        raise CliError(f"cannot connect to Cassandra at {where}: {one_line(error)}") from None
    return db


class OneLineErrors(click.Group):
    """Usage mistakes are one line too (click's default is a usage block and exit status 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx else "slotbandit"
            click.echo(f"slotbandit: {error.format_message()} (see `{where} --help`)", err=True)
            sys.exit(2)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("slotbandit: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def moment(value: str, name: str, now: Optional[datetime] = None) -> datetime:
    """``app.clock.parse_moment`` with its error as a ``CliError``."""
    try:
        return parse_moment(value, name, now)
    except MomentError as error:
        raise CliError(str(error)) from None


def window(since: str, until: Optional[str], now: Optional[datetime] = None,
           zone: tzinfo = timezone.utc) -> Tuple[datetime, datetime]:
    """``(start, end)`` of ``--since``/``--until`` (ISO date, date-time or an age like 7d; dates and
    date-times without an offset in ``zone``), or one line."""
    try:
        return parse_window(since, until, now, zone)
    except MomentError as error:
        raise CliError(str(error)) from None
