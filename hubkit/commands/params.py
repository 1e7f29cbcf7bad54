"""Click parameter types for Hub names, built on `hubkit.ids`: a bad value is a one-line error (exit 2) at parse time,
before any command body runs, so nothing is trained, read or uploaded for a repo id or tag the Hub would refuse."""

from __future__ import annotations

import click

from .. import ids


class InvalidValue(click.ClickException):
    """A one-line `Error: ...` (no usage block), exit 2 like every hubkit input error."""

    exit_code = 2


class RepoIdType(click.ParamType):
    """A Hub repo id ('namespace/name', or a bare 'name' unless `require_namespace`)."""

    name = "repo_id"

    def __init__(self, require_namespace: bool = False):
        self.require_namespace = require_namespace

    def convert(self, value, param, ctx):
        value = value.strip() if isinstance(value, str) else value
        reason = ids.repo_id_problem(value, require_namespace=self.require_namespace)
        if reason is not None:
            raise InvalidValue(f"invalid repo id {value!r}: {reason}")
        return value


class TagType(click.ParamType):
    """A git tag name the Hub accepts (git check-ref-format's rules)."""

    name = "tag"

    def convert(self, value, param, ctx):
        reason = ids.tag_problem(value)
        if reason is not None:
            raise InvalidValue(f"invalid tag {value!r}: {reason} (e.g. v1.2.0)")
        return value


REPO_ID = RepoIdType()
REPO_ID_WITH_NAMESPACE = RepoIdType(require_namespace=True)
TAG = TagType()
