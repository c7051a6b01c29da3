"""Settings: one object for every setting of deskterm, read from two places.

``DESKTERM_*`` environment variables win over the config file (``deskterm.toml`` in the
config folder, or the file ``DESKTERM_CONFIG_FILE`` names), which wins over the built-in
defaults. The file's ``[desk]`` table holds the desk's own settings (``DESKTERM_<KEY>``);
``[smtp]``, ``[sms]``, ``[imap]``, ``[mail]`` and ``[outbox]`` hold the channels'
(``DESKTERM_<TABLE>_<KEY>``, so a password can stay out of the file). A table or key the file
should not have is refused by name, as is a value of the wrong type. Nothing is read at
import time.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from deskterm.domain.errors import InvalidInput
from deskterm.paths import config_dir, data_dir, data_file

#: How the desk knows who is acting: what the person says (``--as``, ``DESKTERM_USER``,
#: the OS login), or the database login they connect with (PostgreSQL only).
Identity = Literal["claimed", "database"]
#: What stands between the desk and PostgreSQL: nothing, or PgBouncer (or the like) pooling
#: by transaction or by session.
Pooler = Literal["none", "transaction", "session"]

PREFIX = "DESKTERM_"

#: What people write for a mail server's encryption, and what each means.
_TLS_MODES = {
    "starttls": "starttls",
    "tls": "tls",
    "ssl": "tls",
    "implicit": "tls",
    "none": "none",
    "off": "none",
    "plain": "none",
    "false": "none",
    "no": "none",
}


def _blank_is_unset(value: object) -> object:
    # As the channels' settings always were: surrounding spaces go, and an empty value is
    # no value (`DESKTERM_SMTP_HOST=` switches SMTP off rather than naming host "").
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _tls_mode(value: object) -> object:
    value = _blank_is_unset(value)
    if isinstance(value, str):
        if value.lower() not in _TLS_MODES:
            raise ValueError("is not one of starttls, tls, none")
        return _TLS_MODES[value.lower()]
    return value


def _between(low: int, high: int) -> Callable[[int | None], int | None]:
    def check(number: int | None) -> int | None:
        if number is not None and not low <= number <= high:
            raise ValueError(f"is not between {low} and {high}")
        return number

    return check


def _seconds(low: float, high: float) -> Callable[[float], float]:
    def check(number: float) -> float:
        if not low <= number <= high:
            raise ValueError(f"is not between {low:g} and {high:g} seconds")
        return number

    return check


def _database_address(url: str | None) -> str | None:
    if url is not None and not url.lower().startswith(("postgresql://", "postgresql+psycopg://")):
        raise ValueError("must be a postgresql:// URL")
    return url


def _web_address(url: str | None) -> str | None:
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


def _get_or_post(method: str | None) -> str | None:
    if method is not None and method.upper() not in ("GET", "POST"):
        raise ValueError("must be GET or POST")
    return method.upper() if method else None


Text = Annotated[str | None, BeforeValidator(_blank_is_unset)]
Secret = Annotated[SecretStr | None, BeforeValidator(_blank_is_unset)]
Port = Annotated[int | None, BeforeValidator(_blank_is_unset), AfterValidator(_between(1, 65535))]
Tls = Annotated[Literal["starttls", "tls", "none"] | None, BeforeValidator(_tls_mode)]


class _Table(BaseModel):
    """One table of the config file: a key it does not know is a mistake, named."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmtpSettings(_Table):
    """``[smtp]``: the server customers' mail goes out through (off without a host)."""

    host: Text = None
    #: 587 by default, 465 with ``tls = "tls"``, 25 with ``tls = "none"``.
    port: Port = None
    #: ``starttls`` by default (``tls`` on port 465).
    tls: Tls = None
    #: The address customers get mail from: ``Help Desk <help@example.com>``.
    sender: Text = Field(default=None, alias="from")
    #: The older name of ``from``.
    from_address: Text = None
    user: Text = None
    password: Secret = None


class SmsSettings(_Table):
    """``[sms]``: an HTTP gateway; ``url`` and ``body`` are templates with ``{to}``,
    ``{text}``, ``{ref}`` and ``{id}`` (off without a URL)."""

    url: Annotated[Text, AfterValidator(_web_address)] = None
    method: Annotated[Text, AfterValidator(_get_or_post)] = None
    body: Text = None
    user: Text = None
    password: Secret = None
    token: Secret = None


class ImapSettings(_Table):
    """``[imap]``: the mailbox customers write to (off without a host)."""

    host: Text = None
    #: 993 by default, 143 with ``tls = "starttls"`` or ``"none"``.
    port: Port = None
    tls: Tls = None
    user: Text = None
    password: Secret = None
    folder: Text = None


class MailSettings(_Table):
    """``[mail]``: what becomes of mail that comes in."""

    #: The group whose queue tickets opened from mail wait in (default: the first level-1).
    group: Text = None


class OutboxSettings(_Table):
    """``[outbox]``: how hard the desk tries to tell a customer."""

    max_attempts: Annotated[int, AfterValidator(_between(1, 100))] = 5


class WebSettings(_Table):
    """``[web]``: the customers' pages (``deskterm serve web``)."""

    #: Where customers reach ``serve web`` (behind its proxy): the links in their messages.
    base_url: Annotated[Text, AfterValidator(_web_address)] = None


class KeysSettings(_Table):
    """``[keys]``: the desk's own keys, by binding id (``pull_next = "n"``, several keys
    comma-separated); each analyst may move theirs again (``deskterm keys set``). Which ids
    there are, and conflicts between keys, ``deskterm config check`` says: the app's
    bindings are the app's to list (desk/keymaps.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _keys_textual_knows(cls, values: object) -> object:
        from deskterm.domain.keymap import parse_keys

        if not isinstance(values, Mapping):
            return values
        clean: dict[str, str] = {}
        for raw_id, keys in values.items():
            binding_id = str(raw_id).lower()
            if not _BINDING_ID.match(binding_id):
                raise PydanticCustomError(
                    "keymap",
                    "{id}: is not a binding id (snake_case: pull_next, new_call...)",
                    {"id": binding_id},
                )
            if not isinstance(keys, str):
                raise PydanticCustomError(
                    "keymap", "{id}: is not text (put the keys in quotes)", {"id": binding_id}
                )
            try:
                clean[binding_id] = parse_keys(keys)
            except ValueError as exc:
                raise PydanticCustomError(
                    "keymap", "{id}: {problem}", {"id": binding_id, "problem": str(exc)}
                ) from None
        return clean

    def keymap(self) -> dict[str, str]:
        """Binding id -> keys, in Textual's form (what ``App.set_keymap`` takes)."""
        return {key: str(value) for key, value in (self.model_extra or {}).items()}


_BINDING_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: The tables of the config file besides ``[desk]``, by name.
TABLES: dict[str, type[_Table]] = {
    "smtp": SmtpSettings,
    "sms": SmsSettings,
    "imap": ImapSettings,
    "mail": MailSettings,
    "outbox": OutboxSettings,
    "web": WebSettings,
    "keys": KeysSettings,
}


class Settings(BaseSettings):
    """Every setting in force. Build it with ``load_settings()``, which names what is wrong."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", frozen=True)

    database_url: str | None = None
    user: str | None = None
    identity: Identity = "claimed"
    #: Where a phone number written without a country code is (ISO 3166 code, e.g. GB, DE,
    #: US): ``0118 496 6515`` is stored as +441184966515 under GB. GB by default, as the
    #: demo desk. Numbers are normalised when written, so change it before the desk fills.
    phone_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] = "GB"
    #: PostgreSQL connections a process (an app, a command) keeps open at rest: 1 by
    #: default; 0 keeps none and connects for each unit of work (as behind PgBouncer).
    pool_size: Annotated[int, AfterValidator(_between(0, 20))] = 1
    #: More connections a process may open for a burst of work, closed as soon as it ends.
    pool_overflow: Annotated[int, AfterValidator(_between(0, 50))] = 4
    #: Seconds after which the pooled connections nobody uses are closed (0: never). Short,
    #: so that a centre of a couple hundred open apps, each refreshing now and then, holds
    #: few connections at once: reconnecting costs a few milliseconds (about 3.4 on the
    #: database's own host), a burst of work none.
    pool_idle_seconds: Annotated[float, AfterValidator(_seconds(0, 3600))] = 0.5
    #: Where the live queues ``LISTEN`` when not at ``database_url``: the database itself or
    #: a session-mode pool, as ``LISTEN`` needs one session throughout.
    listen_url: Annotated[Text, AfterValidator(_database_address)] = None
    #: What ``database_url`` goes through: ``none`` (PostgreSQL itself), ``transaction``
    #: (a transaction-mode pool: needs ``listen_url``) or ``session``.
    pooler: Pooler = "none"
    #: Where the default desk (``desk.db``), the drafts of calls not yet saved and the SSH
    #: server's host key are kept: the user's data folder unless set.
    data_dir: Path | None = None
    #: The SLA policy (targets per priority, working hours, holidays): ``sla.toml`` in the
    #: config folder, else the shipped one, unless set.
    sla_file: Path | None = None
    #: Minutes after which a missed phone call nobody has called back is brought up to the
    #: analysts it rang and to supervisors (0: never), as the SLA check does its warnings.
    missed_call_alert_minutes: Annotated[int, AfterValidator(_between(0, 1440))] = 15
    #: Read from the environment only: it says where the rest is.
    config_file: Path | None = None

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    keys: KeysSettings = Field(default_factory=KeysSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environment = _Environment(settings_cls, os.environ)
        return (init_settings, environment, _ConfigFile(settings_cls, environment.config_file))

    @model_validator(mode="after")
    def _listen_past_a_transaction_pool(self) -> Settings:
        if self.pooler == "transaction" and not self.listen_url:
            raise ValueError(
                "pooler = 'transaction' needs listen_url (the database itself or a "
                "session-mode pool): LISTEN through a transaction pool hears nothing"
            )
        return self

    def resolved_database_url(self, override: str | None = None) -> str:
        if override:
            return override
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_folder() / 'desk.db'}"

    def data_folder(self) -> Path:
        return self.data_dir.expanduser() if self.data_dir else data_dir()

    def sla_path(self) -> Path:
        return self.sla_file.expanduser() if self.sla_file else data_file("sla.toml")


def _desk_keys(*, in_file: bool = False) -> list[str]:
    # config_file is an environment variable only: the file cannot say where it is.
    return [
        name
        for name in Settings.model_fields
        if name not in TABLES and not (in_file and name == "config_file")
    ]


def _keys(table: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in table.model_fields.items()]


class _Environment(PydanticBaseSettingsSource):
    """``DESKTERM_<KEY>`` for the desk's settings, ``DESKTERM_<TABLE>_<KEY>`` for a table's.

    Each variable is matched whole against the names the settings have, so a key with an
    underscore in it (``DESKTERM_OUTBOX_MAX_ATTEMPTS``) is never split in the wrong place.
    An empty variable is an unset one. Variables no setting has are not looked at: the
    environment is shared with everything else the user runs.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        given = {key.upper(): value for key, value in environ.items() if value != ""}
        self.values: dict[str, Any] = {}
        #: The variable each value came from, by its place in the settings.
        self.names: dict[tuple[str, ...], str] = {}
        for key in _desk_keys():
            self._take(given, (key,))
        for table, model in TABLES.items():
            for key in _keys(model):
                self._take(given, (table, key))
        # [keys] has no fixed keys: each DESKTERM_KEYS_<ID> names a binding id of its own.
        for name in sorted(given):
            if name.startswith(PREFIX + "KEYS_") and len(name) > len(PREFIX + "KEYS_"):
                self._take(given, ("keys", name.removeprefix(PREFIX + "KEYS_").lower()))
        named = self.values.get("config_file")
        self.config_file = Path(named).expanduser() if named else config_dir() / "deskterm.toml"

    def _take(self, given: Mapping[str, str], place: tuple[str, ...]) -> None:
        name = PREFIX + "_".join(place).upper()
        if name in given:
            *tables, key = place
            target = self.values
            for table in tables:
                target = target.setdefault(table, {})
            target[key] = given[name]
            self.names[place] = name

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ hands over the whole tree at once.
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


class _ConfigFile(TomlConfigSettingsSource):
    """The config file, its ``[desk]`` table read as the settings' own, the others nested.

    A table the desk has no use for, a key outside any table or a table that is not one is
    refused here with the file's name: pydantic then names unknown keys inside a table.
    """

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        try:
            super().__init__(settings_cls, toml_file=path)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise InvalidInput(f"{path}: {exc}", field="config") from None
        self.values = self._reshape(self.toml_data)

    def _reshape(self, document: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        known = ", ".join(["desk", *TABLES])
        for raw_name, table in document.items():
            name = str(raw_name).lower()
            if not isinstance(table, dict):
                raise InvalidInput(
                    f"{self.path}: {raw_name}: a setting outside any table (known tables: {known})",
                    field=name,
                )
            # Keys are read in any case, as they always were ("Host" is host).
            keys = {str(k).lower(): v for k, v in table.items()}
            if name == "desk":
                # Where the file is comes from the environment alone: a file cannot move itself.
                keys.pop("config_file", None)
                clash = sorted(keys.keys() & TABLES.keys())
                if clash:
                    desk = ", ".join(_desk_keys(in_file=True))
                    raise InvalidInput(
                        f"{self.path}: [desk] {clash[0]}: unknown setting (known: {desk}); "
                        f"[{clash[0]}] is a table of its own",
                        field=clash[0],
                    )
                values.update(keys)
            elif name in TABLES:
                values[name] = keys
            else:
                raise InvalidInput(
                    f"{self.path}: [{raw_name}]: unknown table (known: {known})", field=name
                )
        return values

    def __call__(self) -> dict[str, Any]:
        return self.values


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file in force (it need not exist)."""
    return _Environment(Settings, os.environ if environ is None else environ).config_file


def load_settings(environ: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """The settings in force; a config file or value that cannot be used is one clear line.

    ``environ`` (default: the process's) and ``path`` (default: what ``DESKTERM_CONFIG_FILE``
    names, else ``deskterm.toml`` in the config folder) are for tests and checks.
    """
    environment = _Environment(Settings, os.environ if environ is None else environ)
    file = _ConfigFile(Settings, path or environment.config_file)
    try:
        return Settings(_build_sources=((environment, file), {}))
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InvalidInput(
            _describe(problem, environment, file.path),
            field=str(problem["loc"][-1]) if problem["loc"] else "pooler",
        ) from None


#: Keys whose values are never repeated back, not even when they are wrong.
_SECRET_KEYS = frozenset({"password", "token"})


def _describe(problem: ErrorDetails, environment: _Environment, path: Path) -> str:
    """One line: where the value came from (the variable, or the file's table and key), and
    what is wrong with it."""
    place = tuple(str(part) for part in problem["loc"])
    if not place:
        # A rule between settings, said whole.
        return str(problem.get("ctx", {}).get("error", problem["msg"]))
    if place in environment.names:
        where = environment.names[place]
    elif len(place) == 1:
        where = f"{path}: [desk] {place[0]}"
    else:
        where = f"{path}: [{place[0]}] {'.'.join(place[1:])}"
    kind = problem["type"]
    if kind == "keymap":
        binding_id = str(problem.get("ctx", {}).get("id", ""))
        where = environment.names.get(("keys", binding_id), f"{path}: [keys] {binding_id}")
        said = problem["msg"].removeprefix(f"{binding_id}: ")
        return f"{where}: {said}"
    if kind == "extra_forbidden":
        model = TABLES.get(place[0]) if len(place) > 1 else None
        known = _keys(model) if model is not None else _desk_keys(in_file=True)
        return f"{where}: unknown setting (known: {', '.join(known)})"
    value = "the value" if place[-1] in _SECRET_KEYS else repr(problem["input"])
    if kind == "value_error":
        said = str(problem.get("ctx", {}).get("error", problem["msg"]))
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        said = "is not a number"
    elif kind == "string_type":
        said = "is not text (put it in quotes)"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        said = "is not a table"
    elif kind == "literal_error":
        said = f"is not one of {problem.get('ctx', {}).get('expected', '')}"
    elif kind == "string_pattern_mismatch":
        said = "is not a two-letter country code (GB, DE, US...)"
    else:
        said = f"is not valid: {problem['msg']}"
    return f"{where}: {value} {said}"


#: What a secret looks like wherever settings are shown (pydantic's own mask).
MASK = "**********"


def shown(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings in force as the config file's tables would hold them, unset ones left
    out and every secret (passwords, tokens, a password in the database URL) masked."""
    values = settings.model_dump(mode="json", by_alias=True, exclude_none=True)
    desk = {key: values[key] for key in _desk_keys(in_file=True) if key in values}
    for key in ("database_url", "listen_url"):
        if key in desk:
            desk[key] = _hide_password(desk[key])
    tables = {"desk": desk}
    tables.update((name, values[name]) for name in TABLES if values.get(name))
    return tables


def _hide_password(url: str) -> str:
    # scheme://user:password@host/...: only the password goes.
    scheme, sep, rest = url.partition("://")
    login, at, place = rest.rpartition("@")
    if not (sep and at) or ":" not in login:
        return url
    return f"{scheme}://{login.partition(':')[0]}:{MASK}@{place}"
