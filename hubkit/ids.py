"""Names hubkit checks before it talks to the Hub: repo ids, local paths given where a repo id belongs, git tags.

Every check returns the reason a value is refused (None when it is fine), so the card linter can report it as a
problem and the CLI and the publish path as a one-line error, with the same words everywhere.

Repo ids follow `huggingface_hub.utils.validate_repo_id` exactly (its regex is copied verbatim, checks in the same
order): importing that validator pulls in huggingface_hub's HTTP client (httpx, ~0.2 s), which `hubkit build-card`
and `hubkit --help` must not pay. tests/test_ids.py checks the copy against the library on a table of ids.
"""

from __future__ import annotations

import re

from .errors import HubkitError

# Verbatim from huggingface_hub/utils/_validators.py (REPO_ID_REGEX); a test keeps them equal.
REPO_ID_REGEX = re.compile(
    r"""
    (\b[\w\-.]{1,96}\b/)? # optional namespace (username or organization)
    \b               # starts with a word boundary
    [\w\-.]{1,96}    # repo_name: alphanumeric + . _ -
    \b               # ends with a word boundary
    """,
    flags=re.VERBOSE | re.ASCII,
)

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")  # C:, C:\models, C:/models, C:models
# git check-ref-format: ASCII control characters, DEL, space and ~ ^ : ? * [ \ are never allowed in a ref name.
_REF_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# --- repo ids ------------------------------------------------------------------------------------------------------


def looks_like_local_path(value: str) -> bool:
    """True for what is clearly a file-system path, not a Hub id: `/x`, `./x`, `../x`, `.x`, `~/x`, `C:\\x`, `C:/x`,
    anything with a backslash, a `file:` URL, or more than one `/` (`models/org/name`)."""
    return (
        value.startswith(("/", ".", "~", "\\"))
        or "\\" in value
        or _WINDOWS_DRIVE.match(value) is not None
        or value.lower().startswith("file:")
        or value.count("/") > 1
    )


def repo_id_problem(value: object, *, require_namespace: bool = False) -> str | None:
    """Why `value` is not a Hub repo id ('name' or 'namespace/name'), or None when the Hub accepts it.

    The rules and their order are huggingface_hub's validate_repo_id; a local path gets its own reason first, and
    `require_namespace` refuses a bare 'name'.
    """
    if not isinstance(value, str):
        return f"a repo id must be a string, not {type(value).__name__}"
    if value.strip() == "":
        return "empty"
    if value.count("/") > 1:
        return "use 'name' or 'namespace/name', not a local path"
    if looks_like_local_path(value):
        return "this is a local path; a Hub repo id is namespace/name"
    if not REPO_ID_REGEX.fullmatch(value):
        return (
            "use letters, digits, '-', '_' or '.', not starting or ending with '-' or '.', at most 96 characters "
            "per part"
        )
    if "--" in value or ".." in value:
        return "'--' and '..' are not allowed"
    if value.endswith(".git"):
        return "it must not end with '.git'"
    if require_namespace and "/" not in value:
        return "expected namespace/name"
    return None


def is_hub_id(value: object) -> bool:
    """True for 'name' or 'namespace/name' as the Hub accepts them."""
    return repo_id_problem(value) is None


def check_repo_id(value: str, *, require_namespace: bool = False) -> str:
    """`value` when it is a Hub repo id, else a one-line HubkitError naming the rule it breaks."""
    reason = repo_id_problem(value, require_namespace=require_namespace)
    if reason is not None:
        raise HubkitError(f"invalid repo id {value!r}: {reason}")
    return value


# --- git tags ------------------------------------------------------------------------------------------------------


def tag_problem(name: object) -> str | None:
    """Why `name` cannot be a git tag (git check-ref-format's rules for refs/tags/<name>), or None when it can.

    The Hub stores tags as git refs and refuses the same names; checking here lets a push fail before it uploads.
    """
    if not isinstance(name, str) or name == "":
        return "empty"
    if _REF_FORBIDDEN_CHARS.search(name):
        return "no spaces, control characters or any of ~ ^ : ? * [ \\"
    if ".." in name:
        return "'..' is not allowed"
    if "@{" in name:
        return "'@{' is not allowed"
    if name == "@":
        return "'@' alone is not allowed"
    if name.startswith("-"):
        return "it must not start with '-'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "no leading, trailing or double '/'"
    if name.endswith("."):
        return "it must not end with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "no part may start with '.'"
        if part.endswith(".lock"):
            return "no part may end with '.lock'"
    return None


def check_tag(name: str) -> str:
    """`name` when git and the Hub accept it as a tag, else a one-line HubkitError."""
    reason = tag_problem(name)
    if reason is not None:
        raise HubkitError(f"invalid tag {name!r}: {reason} (e.g. v1.2.0)")
    return name
