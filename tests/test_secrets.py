"""Secret shapes: one table of texts that must be caught (with their kind) and texts that must not.

Every secret-shaped value is built at run time from harmless pieces, so no token-shaped literal is committed (the
last test checks that for the whole checkout with the same scanner).
"""

from __future__ import annotations

import string
import subprocess
from pathlib import Path

import pytest

from hubkit.secret_scan import (
    HUB_TOKEN_KINDS,
    KINDS,
    RedactSecrets,
    describe,
    find_secrets,
    find_secrets_in_bytes,
    has_secret,
    redact,
)

from .conftest import ROOT


def _letters(n: int, step: int = 7) -> str:
    return "".join(string.ascii_letters[(step * i) % 52] for i in range(n))


def _alnum(n: int) -> str:
    chars = string.ascii_letters + string.digits
    return "".join(chars[(11 * i) % 62] for i in range(n))


HF = "hf_"
HUB_TOKEN = HF + _letters(34)
JWT = "eyJ" + _alnum(20) + ".eyJ" + _alnum(40) + "." + _alnum(43).replace("a", "-")
OIDC_TOKEN = HF + "jwt_" + JWT
ORG_TOKEN = "api_" + "org_" + _letters(34, 5)
LEGACY_TOKEN = "api_" + _letters(34, 3)
AWS_KEY_ID = "AK" + "IA" + "".join(string.ascii_uppercase[(3 * i) % 26] for i in range(16))
AWS_SECRET = _alnum(36) + "/+Ab"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\n" + _alnum(64) + "\n" + _alnum(20) + "\n-----END RSA PRIVATE KEY-----"
OPENSSH = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\n" + _alnum(70) + "\n"  # truncated: the header is enough
GITHUB = "gh" + "p_" + _alnum(36)
PASSWORD = "s3cr" + "et-" + _alnum(10)

# text -> [(kind, the exact secret span)] in order
CAUGHT = [
    (HUB_TOKEN, [("hub-token", HUB_TOKEN)]),
    (f"login with {HUB_TOKEN}.", [("hub-token", HUB_TOKEN)]),
    ("x" + HUB_TOKEN, [("hub-token", HUB_TOKEN)]),  # glued to a word on the left
    (HUB_TOKEN + "xyz", [("hub-token", HUB_TOKEN + "xyz")]),  # and on the right
    (f'{{"auth": "{HUB_TOKEN}"}}', [("hub-token", HUB_TOKEN)]),
    (f"token={HUB_TOKEN}&x=1", [("hub-token", HUB_TOKEN)]),
    (OIDC_TOKEN, [("hub-oidc-token", OIDC_TOKEN)]),
    ("Bearer " + OIDC_TOKEN + "\n", [("hub-oidc-token", OIDC_TOKEN)]),
    ("x" + OIDC_TOKEN, [("hub-oidc-token", OIDC_TOKEN)]),
    (HF + "jwt_" + _letters(34), [("hub-oidc-token", HF + "jwt_" + _letters(34))]),
    (ORG_TOKEN, [("hub-org-token", ORG_TOKEN)]),
    ("my" + ORG_TOKEN, [("hub-org-token", ORG_TOKEN)]),
    (f"old: {LEGACY_TOKEN}", [("hub-legacy-token", LEGACY_TOKEN)]),
    (f"key {AWS_KEY_ID} end", [("aws-access-key", AWS_KEY_ID)]),
    (f'aws_secret_access_key = "{AWS_SECRET}"', [("aws-secret-key", AWS_SECRET)]),
    (f"intro\n{PEM}\noutro", [("private-key", PEM)]),
    (OPENSSH, [("private-key", OPENSSH.splitlines()[0])]),
    (GITHUB, [("github-token", GITHUB)]),
    (JWT, [("jwt", JWT)]),
    (f"PASSWORD={PASSWORD}", [("env-secret", PASSWORD)]),
    (f"export DB_PASSWORD='{PASSWORD}'\n", [("env-secret", PASSWORD)]),
    (f"SECRET={PASSWORD}\r\n", [("env-secret", PASSWORD)]),
    (f'OPENAI_API_KEY="{PASSWORD}"', [("env-secret", PASSWORD)]),
    (f"A=1\nAWS_SECRET_ACCESS_KEY={PASSWORD}\nB=2", [("env-secret", PASSWORD)]),
    (f"HF_TOKEN={HUB_TOKEN}", [("hub-token", HUB_TOKEN)]),  # one span, the more specific kind
    (f"{HUB_TOKEN} and {ORG_TOKEN}", [("hub-token", HUB_TOKEN), ("hub-org-token", ORG_TOKEN)]),
]

NOT_CAUGHT = [
    "from huggingface_hub import hf_hub_download, hf_hub_url",
    "hf_hub_download_to_a_very_long_local_directory_name",  # snake_case, however long
    HF + _letters(20),  # too short for a token
    "an hf_jwt_... token (the OIDC shape)",
    "api_org_ is the prefix of organization tokens",
    "AKIA" + "ABC",
    "XAKIA" + "A" * 16 + "X",  # glued inside a longer upper-case word
    "aws key: 'not forty characters'",
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "HF_TOKEN=<your token>",
    "export HF_TOKEN=${HF_TOKEN}",
    "HF_TOKEN=$HF_TOKEN",
    "PASSWORD=***",
    "MAX_TOKEN_LENGTH=512",
    "TOKENIZERS_PARALLELISM=false",
    "PAD_TOKEN=[PAD]",
    "    the SECRET=short one",  # not a line of its own
    'TOKEN = "' + PASSWORD + '"',  # an assignment in code, not a .env line
    "password=" + PASSWORD,  # lower-case names are prose or code, not .env lines
    "eyJhbGciOi is just base64 of a JSON start",
    "| Exact Match | 61.2 | 58.0 |",
    "",
]


@pytest.mark.parametrize("text,expected", CAUGHT, ids=[f"{i}-{e[0][0]}" for i, (_, e) in enumerate(CAUGHT)])
def test_secret_shapes_are_caught(text: str, expected: list[tuple[str, str]]):
    found = find_secrets(text)
    assert [(m.kind, text[m.start : m.end]) for m in found] == expected
    assert has_secret(text)
    assert find_secrets_in_bytes(text.encode()) == found
    redacted = redact(text)
    for _, secret in expected:
        assert secret not in redacted
    assert all(f"<redacted {kind}>" in redacted for kind, _ in expected)


@pytest.mark.parametrize("text", NOT_CAUGHT, ids=range(len(NOT_CAUGHT)))
def test_harmless_text_is_not_caught(text: str):
    assert find_secrets(text) == []
    assert not has_secret(text)
    assert redact(text) == text


def test_matches_carry_line_numbers_and_descriptions_but_never_the_secret():
    text = f"line one\nline two {HUB_TOKEN}\n\n{PEM}\nPASSWORD={PASSWORD}\n"
    found = find_secrets(text)
    assert [(m.kind, m.line) for m in found] == [("hub-token", 2), ("private-key", 4), ("env-secret", 8)]
    assert found[0].is_hub_token and not found[1].is_hub_token
    assert all(secret not in repr(found) for secret in (HUB_TOKEN, PEM, PASSWORD))
    assert all(describe(kind) for kind in KINDS) and HUB_TOKEN_KINDS <= set(KINDS)


def test_redact_removes_known_secrets_of_any_shape():
    live = "hf_" + "demo_" + _alnum(32)  # the demo's token shape: not a Hub token shape, but known
    text = f"GET /api failed for {live} (also {HUB_TOKEN})"
    assert redact(text, live, None) == "GET /api failed for *** (also <redacted hub-token>)"


def _checkout_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files cannot be listed")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_secret_shaped_literal_is_committed():
    offenders = []
    for path in _checkout_files():
        if path.is_file() and path.suffix not in {".png", ".safetensors", ".parquet", ".bin"}:
            found = find_secrets_in_bytes(path.read_bytes())
            offenders += [f"{path.relative_to(ROOT)}:{m.line} {m.kind}" for m in found]
    assert offenders == []


def test_log_records_are_redacted_message_and_traceback(caplog: pytest.LogCaptureFixture):
    import logging

    logger = logging.getLogger("hubkit.test-redaction")
    caplog.handler.addFilter(RedactSecrets())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("request with %s", OIDC_TOKEN)
            try:
                raise ValueError(f"bad {HUB_TOKEN}")
            except ValueError:
                logger.exception("failed")
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])
    assert "request with <redacted hub-oidc-token>" in caplog.text
    assert "ValueError: bad <redacted hub-token>" in caplog.text
    assert OIDC_TOKEN not in caplog.text and HUB_TOKEN not in caplog.text


def test_cli_errors_never_print_a_secret(tmp_path: Path):
    from click.testing import CliRunner

    from hubkit.cli import cli

    missing = tmp_path / OIDC_TOKEN  # an error message that quotes a path holding a token
    result = CliRunner().invoke(cli, ["lint-card", str(missing)])
    assert result.exit_code == 2 and result.output.startswith("Error: no model card at ")
    assert "<redacted hub-oidc-token>" in result.output and OIDC_TOKEN not in result.output
