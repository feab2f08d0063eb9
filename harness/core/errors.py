"""The one error type the command line shows as a single line (no traceback), exit status 1."""
import click


class HarnessError(click.ClickException):
    """Something the user can act on: the message says what went wrong and what to do."""

    exit_code = 1
