"""The one exception type that means "bad input": the CLI prints it on one line and exits 2."""


class HubkitError(Exception):
    """A problem the user can fix (missing file, malformed record, bad template...).

    The message must be a single line and must never contain a token.
    """

    exit_code = 2
