"""Who is pushing: resolve the token, ask the Hub `whoami`, and turn every auth failure into one safe line.

The token comes from huggingface_hub's own resolution (`get_token()`: Hub trusted publishing via
`HF_OIDC_RESOURCE`, then `HF_TOKEN`, then the `hf auth login` file), so hubkit behaves exactly like the `hf` CLI.
The token is held in memory only: never printed, logged, put in an exception message, or written to a file.
Every message built here goes through :func:`scrub` as a last line of defence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import HubkitError
from ..secret_scan import redact


def endpoint_from_env() -> str:
    """The Hub to talk to: `HF_ENDPOINT` read now (not at import time, as huggingface_hub does), else the real Hub."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def scrub(text: str, token: str | None = None) -> str:
    """Remove `token` and anything secret-shaped (hubkit.secret_scan) from `text`, so it can be shown or stored."""
    return redact(text, token)


def resolve_token(required: bool = True) -> str | None:
    """The token huggingface_hub would use, or a one-line error (when `required`) saying how to provide one."""
    from huggingface_hub import get_token

    try:
        token = get_token()
    except Exception as exc:  # e.g. OIDCError when HF_OIDC_RESOURCE is set but the exchange fails
        raise HubkitError(f"could not obtain a Hub token: {scrub(str(exc)).splitlines()[0]}") from None
    if token is None and required:
        raise HubkitError("no Hub token: set HF_TOKEN or run `hf auth login` (a write token is needed to push)")
    return token


@dataclass(frozen=True)
class Identity:
    """The account a token belongs to, as `whoami` reports it."""

    name: str
    orgs: tuple[str, ...] = ()
    role: str | None = None  # "read", "write", "fineGrained" or None when the server does not say
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def can_write(self) -> bool:
        return self.role != "read"


def whoami(api, token: str) -> Identity:
    """Ask the Hub who `token` belongs to; a bad token or an unreachable Hub is a one-line error."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = api.whoami(token=token)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise HubkitError(
                f"the Hub at {api.endpoint} rejected the token (401): check HF_TOKEN or `hf auth login`"
            ) from None
        raise HubkitError(f"whoami failed at {api.endpoint}: HTTP {status}") from None
    except Exception as exc:  # connection refused, DNS, TLS...
        raise HubkitError(f"cannot reach the Hub at {api.endpoint}: {type(exc).__name__}") from None
    name = info.get("name")
    if not name:
        raise HubkitError(f"the Hub at {api.endpoint} returned no user name for this token")
    orgs = tuple(str(o["name"]) for o in info.get("orgs") or [] if isinstance(o, dict) and o.get("name"))
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    return Identity(name=name, orgs=orgs, role=role, raw=info)
