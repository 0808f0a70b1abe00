"""A password in the base URL (issue 12, item 8) is refused before anything uses the URL, and
never shown: not in the error, the --log-file, the JSON output or the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from batch.cli import main
from batch.cli.logs import mask
from batch.errors import ConfigError
from batch.text import redact_userinfo

SECRET = "s3cr3t-pw"
CREDENTIALS = {
    "DOLLR_CLIENT_ID": "cli", "DOLLR_CLIENT_SECRET": "sec", "DOLLR_PASSCODE": "0000",
    "DOLLR_PASSCODE_PHONE": "231770000000",
}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"https://user:{SECRET}@api.example", "https://***@api.example"),
        (f"see http://{SECRET}@127.0.0.1:8000/v1 now", "see http://***@127.0.0.1:8000/v1 now"),
        (f"https://u:{SECRET}/x@host/path", "https://***@host/path"),  # "/" in the password
        ("https://api.heydollr.app/v1", "https://api.heydollr.app/v1"),
    ],
)
def test_redact_userinfo(text: str, shown: str) -> None:
    assert redact_userinfo(text) == shown
    assert SECRET not in mask(text)


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_base_url_with_a_password_is_refused_and_never_shown(
    tmp_path: Path, samples: Path, command: str, how: str
) -> None:
    url = f"https://payroll:{SECRET}@api.heydollr.app"
    log = tmp_path / "paybatch.log"
    ledger = tmp_path / "paybatch.db"
    args = [command, str(samples / "payroll_liberia.csv"), "--ledger", str(ledger), "--json",
            "--log-file", str(log)]
    env = dict(CREDENTIALS)
    if how == "flag":
        args += ["--base-url", url]
    else:
        env["DOLLR_BASE_URL"] = url
    if command == "run":
        args.append("--yes")
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "holds a user name or password" in result.stderr
    assert "https://***@api.heydollr.app" in result.stderr
    assert '"error_type": "ConfigError"' in result.stdout
    for text in (result.stdout, result.stderr, log.read_text()):
        assert SECRET not in text
    if ledger.exists():
        assert SECRET.encode() not in ledger.read_bytes()


def test_check_base_url_message_has_no_password() -> None:
    from batch.dollr.client import check_base_url

    with pytest.raises(ConfigError) as caught:
        check_base_url(f"https://user:{SECRET}@api.example")
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
