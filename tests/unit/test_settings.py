"""The one settings object: the config file's tables, ``DESKTERM_*`` winning, every key
checked, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import run_deskterm
from deskterm.config import load_settings, shown
from deskterm.desk.channels import load_config
from deskterm.domain.errors import InvalidInput
from deskterm.domain.refs import format_ref
from factories import ADMIN, AGENT, KnownDesk

SECRET = "hunter2-from-env"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deskterm.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- where from


def test_the_environment_wins_over_the_file_for_a_tables_key(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[smtp]\nhost = "mail.example"\nport = 25\n[outbox]\nmax_attempts = 7\n'
        '[mail]\ngroup = "Service Desk"\n',
    )
    env = {"DESKTERM_SMTP_PORT": "2525", "DESKTERM_OUTBOX_MAX_ATTEMPTS": "9"}
    settings = load_settings(env, path)
    assert (settings.smtp.host, settings.smtp.port) == ("mail.example", 2525)
    assert settings.outbox.max_attempts == 9 and settings.mail.group == "Service Desk"
    # An empty variable is an unset one: the file's value stands.
    assert load_settings({"DESKTERM_SMTP_PORT": ""}, path).smtp.port == 25


def test_a_variable_is_matched_whole_so_underscored_keys_land_where_they_belong(
    tmp_path: Path,
) -> None:
    env = {
        "DESKTERM_SMTP_FROM": "Desk <desk@example.com>",
        "DESKTERM_SMTP_FROM_ADDRESS": "old@example.com",
        "DESKTERM_OUTBOX_MAX_ATTEMPTS": "3",
        "DESKTERM_SMTP_USER": "mailer",
        "DESKTERM_USER": "alice",
        "deskterm_imap_folder": "Support",  # the case of a name does not matter
        "DESKTERM_SMTP_HOTS": "a typo in the environment is not looked at",
        "DESKTERM_BENCH_MARK": "/tmp/marks",
    }
    settings = load_settings(env, tmp_path / "none.toml")
    assert settings.smtp.sender == "Desk <desk@example.com>"
    assert settings.smtp.from_address == "old@example.com"
    assert (settings.smtp.user, settings.user) == ("mailer", "alice")
    assert settings.outbox.max_attempts == 3 and settings.imap.folder == "Support"


def test_a_file_without_a_desk_table_is_read(tmp_path: Path) -> None:
    path = config(tmp_path, '[sms]\nurl = "https://sms.example/send"\n')
    settings = load_settings({}, path)
    assert settings.identity == "claimed" and settings.sms.url == "https://sms.example/send"


def test_the_file_named_by_the_environment_is_the_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path, '[desk]\nphone_region = "DE"\nconfig_file = "/elsewhere.toml"\n')
    monkeypatch.delenv("DESKTERM_PHONE_REGION", raising=False)
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", str(path))
    settings = load_settings()
    # The file cannot move itself: its own config_file is not followed.
    assert settings.phone_region == "DE" and settings.config_file == path


# --------------------------------------------------------------------------- refused by name


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[smtp]\nhots = "mail.example"\n', "[smtp] hots: unknown setting (known: host, port"),
        ('[smpt]\nhost = "mail.example"\n', "[smpt]: unknown table (known: desk, smtp"),
        ("[desk]\ncolour = 1\n", "[desk] colour: unknown setting"),
        ('database_url = "sqlite://"\n', "database_url: a setting outside any table"),
        ('smtp = "mail.example"\n', "smtp: a setting outside any table"),
        ('[smtp]\nport = "twenty-five"\n', "[smtp] port: 'twenty-five' is not a number"),
        ("[smtp]\nhost = 25\n", "[smtp] host: 25 is not text"),
        ("[outbox]\nmax_attempts = 0\n", "[outbox] max_attempts: 0 is not between 1 and 100"),
        ('[smtp]\ntls = "maybe"\n', "[smtp] tls: 'maybe' is not one of starttls, tls, none"),
        ('[sms]\nurl = "ftp://sms.example"\n', "[sms] url: 'ftp://sms.example' must be an http"),
        ('[desk]\nidentity = "trust-me"\n', "[desk] identity: 'trust-me' is not one of"),
        ('[desk]\nphone_region = "GBR"\n', "[desk] phone_region: 'GBR' is not a two-letter"),
        ("[smtp\n", "Expected ']'"),
    ],
)
def test_what_the_file_should_not_have_is_named_in_one_line(
    tmp_path: Path, text: str, says: str
) -> None:
    path = config(tmp_path, text)
    with pytest.raises(InvalidInput) as caught:
        load_settings({}, path)
    assert says in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_variable_is_named_as_the_variable(tmp_path: Path) -> None:
    path = config(tmp_path, "[smtp]\nport = 25\n")
    with pytest.raises(InvalidInput, match=r"^DESKTERM_SMTP_PORT: 'x' is not a number$"):
        load_settings({"DESKTERM_SMTP_PORT": "x"}, path)


# --------------------------------------------------------------------------- secrets


def test_a_secret_never_shows(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[desk]\ndatabase_url = "postgresql+psycopg://desk:db-secret@db.example/desk"\n'
        '[smtp]\nhost = "mail.example"\nfrom = "desk@example.com"\nuser = "desk"\n'
        '[sms]\nurl = "https://sms.example/send"\ntoken = "sms-secret"\n',
    )
    settings = load_settings({"DESKTERM_SMTP_PASSWORD": SECRET}, path)
    for text in (repr(settings), str(settings), json.dumps(shown(settings))):
        assert SECRET not in text and "sms-secret" not in text
    assert "db-secret" not in json.dumps(shown(settings))
    assert shown(settings)["smtp"]["password"] == "**********"
    # Unwrapped only where the transport needs it, and still out of its repr.
    comms = load_config({"DESKTERM_SMTP_PASSWORD": SECRET}, path)
    assert comms.smtp is not None and comms.smtp.password == SECRET
    assert SECRET not in repr(comms)
    # Nor is a wrong secret repeated in the error that refuses it.
    with pytest.raises(InvalidInput) as caught:
        load_settings({}, config(tmp_path, "[smtp]\npassword = 123456\n"))
    assert "123456" not in str(caught.value) and "[smtp] password" in str(caught.value)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A config file the CLI reads, and no DESKTERM_* of the developer's in the way."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("DESKTERM_") and not name.upper().startswith("DESKTERM_TEST"):
            monkeypatch.delenv(name)
    path = tmp_path / "deskterm.toml"
    monkeypatch.setenv("DESKTERM_CONFIG_FILE", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


def test_config_check_names_an_unknown_key_and_passes_a_good_file(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.write_text('[smtp]\nhost = "mail.example"\nfrom = "desk@example.com"\nhots = 1\n')
    code, _out, err = run_deskterm(monkeypatch, capsys, "config", "check")
    assert code == 1 and err.count("\n") == 1
    assert f"{cli_env}: [smtp] hots: unknown setting" in err

    # Keys that are each fine, but SMTP without a sender is no way to send.
    cli_env.write_text('[smtp]\nhost = "mail.example"\n')
    code, _out, err = run_deskterm(monkeypatch, capsys, "config", "check")
    assert code == 1 and "DESKTERM_SMTP_FROM" in err

    cli_env.write_text('[smtp]\nhost = "mail.example"\nfrom = "desk@example.com"\n')
    monkeypatch.setenv("DESKTERM_SMTP_PASSWORD", SECRET)
    code, out, err = run_deskterm(monkeypatch, capsys, "config", "check")
    assert code == 0, err
    assert f"ok  {cli_env}" in out and SECRET not in out + err


def test_config_show_gives_the_settings_in_force_with_secrets_masked(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.write_text('[smtp]\nhost = "mail.example"\nport = 25\n')
    monkeypatch.setenv("DESKTERM_SMTP_PORT", "2525")
    monkeypatch.setenv("DESKTERM_SMTP_PASSWORD", SECRET)
    code, out, err = run_deskterm(monkeypatch, capsys, "config", "show")
    assert code == 0, err
    assert SECRET not in out
    assert '[smtp]\nhost = "mail.example"\nport = 2525\npassword = "**********"' in out
    code, out, err = run_deskterm(monkeypatch, capsys, "config", "show", "--json")
    assert json.loads(out)["smtp"] == {
        "host": "mail.example",
        "port": 2525,
        "password": "**********",
    }


def test_the_database_named_in_the_file_is_the_one_opened(
    known: KnownDesk,
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ticket = known.ticket(AGENT)
    url = known.db.url.render_as_string(hide_password=False)
    cli_env.write_text(f"[desk]\ndatabase_url = {json.dumps(url)}\n")
    code, out, err = run_deskterm(monkeypatch, capsys, "--as", ADMIN, "ticket", "list", "--json")
    assert code == 0, err
    assert [t["ref"] for t in json.loads(out)] == [format_ref(ticket.id)]


def test_the_data_folder_and_the_sla_file_are_settings(
    cli_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deskterm import defaults
    from deskterm.paths import shipped_data_dir

    folder, sla = tmp_path / "desk-data", tmp_path / "our-sla.toml"
    text = (shipped_data_dir() / "sla.toml").read_text(encoding="utf-8")
    sla.write_text(text, encoding="utf-8")
    cli_env.write_text(f"[desk]\ndata_dir = {json.dumps(str(folder))}\n")
    monkeypatch.setenv("DESKTERM_SLA_FILE", str(sla))
    settings = load_settings()
    assert settings.resolved_database_url() == f"sqlite:///{folder / 'desk.db'}"
    code, out, err = run_deskterm(monkeypatch, capsys, "config", "path")
    assert code == 0, err
    assert f"default database {folder / 'desk.db'}" in out
    assert f"sla policy       {sla}" in out

    code, out, err = run_deskterm(monkeypatch, capsys, "config", "check")
    assert code == 0, err
    assert f"ok  {sla}" in out

    # The policy the desk runs on is the file the setting names: a broken one is named.
    sla.write_text("[targets]\nP1 = 'soon'\n", encoding="utf-8")
    code, out, err = run_deskterm(monkeypatch, capsys, "config", "check")
    assert code == 1 and err.count("\n") == 1 and str(sla) in err
    defaults.sla_policy.cache_clear()
    defaults.resolution_table.cache_clear()
