"""Secrets in text: find them (card lint, staging) and redact them (every message and log line hubkit shows).

One table of shapes, used everywhere:

- Hub tokens, glued to surrounding text or not: user/fine-grained tokens `hf_` + letters/digits, OIDC-exchanged
  tokens `hf_jwt_...` (what trusted publishing hands out), organization tokens `api_org_...`, and the legacy
  `api_...` user tokens. snake_case names such as `hf_hub_download` are not token-shaped (too short, underscores).
- Other common secrets: AWS access key ids (and 40-character secret keys next to the word aws), private key blocks
  (PEM/OpenSSH/PGP), GitHub tokens, bare JWTs, and `.env` lines `NAME_TOKEN=value` / `SECRET=` / `PASSWORD=`
  (upper-case name, no space before `=`, optional `export`) with a real value: placeholders such as
  `<your token>`, `${VAR}`, `***` and values under 8 characters are not secrets; `TOKEN = "..."` in code is not a
  `.env` line.

A match carries its kind and position, never the secret itself, so it can be reported or logged safely.

The shapes are our own regexes rather than a detector library: detect-secrets (Yelp, 1.5.0, offline) has no
Hugging Face plugin, so the shapes that matter most would be ours anyway; its scanner is file- and line-oriented
with process-wide plugin settings and reports no positions (redaction needs spans); and it adds `requests`. The
AWS and private-key shapes follow its plugins.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

# kind -> (pattern, what to call it in a message). Group "secret", when present, is the part to redact. Patterns
# start with a literal where they can (a lookbehind comes after it): the regex engine then skips ahead to that literal
# instead of trying every position, which keeps a multi-MB tokenizer.json fast to scan.
_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "hub-oidc-token": (re.compile(r"hf_jwt_[A-Za-z0-9_\-.]{16,}"), "Hugging Face OIDC token (hf_jwt_...)"),
    "hub-token": (re.compile(r"hf_[A-Za-z0-9]{30,}"), "Hugging Face token (hf_...)"),
    "hub-org-token": (re.compile(r"api_org_[A-Za-z0-9]{30,}"), "Hugging Face organization token (api_org_...)"),
    "hub-legacy-token": (
        re.compile(r"api_(?<![A-Za-z0-9]api_)[A-Za-z0-9]{30,}"),
        "legacy Hugging Face token (api_...)",
    ),
    "aws-access-key": (
        re.compile(r"A(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA)(?<![A-Z0-9]A...)[A-Z0-9]{16}(?![A-Z0-9])"),
        "AWS access key id",
    ),
    "aws-secret-key": (
        re.compile(
            r"aws.{0,20}?(?:key|secret|token|pwd|password).{0,20}?['\"](?P<secret>[0-9a-zA-Z/+]{40})['\"]",
            re.IGNORECASE,
        ),
        "AWS secret access key",
    ),
    "private-key": (
        re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(?:.*?-----END \1-----)?", re.DOTALL),
        "private key block",
    ),
    "github-token": (
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
        "GitHub token",
    ),
    "jwt": (
        re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        "JSON web token",
    ),
    # matched line by line, only on lines holding a '=' (see _env_lines)
    "env-secret": (
        re.compile(
            r"[ \t]*(?:export[ \t]+)?"
            r"(?:[A-Z0-9]+_)*(?:SECRET|TOKEN|PASSWORD|PASSWD|PWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)"
            r"(?:_[A-Z0-9]+)*=(?P<quote>[\"']?)(?![$<*{%])(?P<secret>[^\s\"'#]{8,})(?P=quote)[ \t]*\r?"
        ),
        ".env-style secret line (NAME_TOKEN=..., SECRET=..., PASSWORD=...)",
    ),
}
_LINE_SHAPES = frozenset({"env-secret"})
HUB_TOKEN_KINDS = frozenset({"hub-token", "hub-oidc-token", "hub-org-token", "hub-legacy-token"})
KINDS = tuple(_SHAPES)


@dataclass(frozen=True)
class SecretMatch:
    """Where a secret sits in a text: its kind, span (start, end) and 1-based line. Never the secret itself."""

    kind: str
    start: int
    end: int
    line: int

    @property
    def description(self) -> str:
        return describe(self.kind)

    @property
    def is_hub_token(self) -> bool:
        return self.kind in HUB_TOKEN_KINDS


def describe(kind: str) -> str:
    """What a kind is called in messages, e.g. 'Hugging Face token (hf_...)'."""
    return _SHAPES[kind][1]


def find_secrets(text: str) -> list[SecretMatch]:
    """Every secret-shaped span in `text`, in order, overlaps resolved (the earliest, then the longest, wins)."""
    found = []
    for kind, (pattern, _) in _SHAPES.items():
        matches = _line_matches(pattern, text) if kind in _LINE_SHAPES else pattern.finditer(text)
        group = "secret" if "secret" in pattern.groupindex else 0
        found += [(match.start(group), match.end(group), kind) for match in matches]
    found.sort(key=lambda item: (item[0], -item[1]))
    out: list[SecretMatch] = []
    line, counted_to = 1, 0
    for start, end, kind in found:
        if out and start < out[-1].end:
            continue
        line += text.count("\n", counted_to, start)
        counted_to = start
        out.append(SecretMatch(kind, start, end, line))
    return out


def _line_matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """`pattern` matched against each whole line of `text` that holds a '=' (a fast literal scan finds them)."""
    matches, pos = [], text.find("=")
    while pos != -1:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        match = pattern.fullmatch(text, start, end)
        if match:
            matches.append(match)
        pos = text.find("=", end)
    return matches


def find_secrets_in_bytes(data: bytes) -> list[SecretMatch]:
    """`find_secrets` on raw bytes (every shape is ASCII; latin-1 keeps byte offsets)."""
    return find_secrets(data.decode("latin-1"))


def has_secret(text: str) -> bool:
    return bool(find_secrets(text))


def redact(text: str, *known: str | None) -> str:
    """`text` with every secret-shaped span, and every occurrence of the `known` secrets, replaced by a marker.

    Use on anything shown or stored: exception messages, HTTP error bodies, log lines.
    """
    for secret in known:
        if secret:
            text = text.replace(secret, "***")
    pieces, last = [], 0
    for match in find_secrets(text):
        pieces += [text[last : match.start], f"<redacted {match.kind}>"]
        last = match.end
    return "".join(pieces) + text[last:]


class RedactSecrets(logging.Filter):
    """A logging filter that redacts every record (message and traceback) before any handler writes it.

    Attach it to handlers (`handler.addFilter(RedactSecrets())`): handler filters also see records that propagate
    from child loggers, logger filters do not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
