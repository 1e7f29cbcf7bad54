"""The one exception type that means "bad input": the CLI prints it on one line and exits 2."""


class HubkitError(Exception):
    """A problem the user can fix (missing file, malformed record, bad template...).

    The message must be a single line and must never contain a token.
    """

    exit_code = 2


def describe_validation_error(exc, what: str = "(record)") -> str:
    """One line naming the field of a pydantic ValidationError's first error, e.g. `missing field eval.f1`."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or what
    if err["type"] == "missing":
        return f"missing field {loc}"
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc}"
    msg = " ".join(err["msg"].split()).removeprefix("Value error, ")
    return f"field {loc}: {msg}"


class ChecksFailed(HubkitError):
    """The work ran and a check failed (card lint problems, a smoke test): exit 1, where bad input exits 2."""

    exit_code = 1
