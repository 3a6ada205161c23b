"""Service settings: the YAML file plus TAGWATCH_* environment overrides, validated up front.

Longer than one job's worth on purpose: it is the one model tree of the configuration, section by
section, so that the JSON Schema (`config validate --schema`), the example file and the checks
that name a problem's location all come from one place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tagwatch.app.files import Skipped, read_regular
from tagwatch.core.durations import DURATION_GRAMMAR, parse_duration
from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef, split_reference
from tagwatch.core.routes import DEFAULT_CHANGES, Condition, PolicyFailure, Route
from tagwatch.core.signing import KeylessIdentity, SigningPolicy
from tagwatch.core.yaml_documents import yaml_mapping
from tagwatch.errors import ConfigError, InvalidDuration, InvalidReference, UsageError
from tagwatch.registry.hosts import RegistrySettings

__all__ = [
    "AlertWebhookEntry",
    "BudgetSettings",
    "ClusterEntry",
    "LogSettings",
    "RegistryEntry",
    "RouteEntry",
    "SchedulerSettings",
    "Settings",
    "SlackSettings",
    "WatchEntry",
    "WebhookSecret",
    "WebhookSettings",
    "load_settings",
]

_GLOB = re.compile(r"[*?\[]")


def _duration(value: object) -> float:
    """The core's duration grammar, reported as pydantic reports any other bad value."""
    try:
        return parse_duration(value)
    except InvalidDuration as exc:
        raise ValueError(exc.problem) from None


#: A duration field: a float of seconds inside, `90` or `5m` in the file (and in its JSON Schema).
Duration = Annotated[
    float,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^{DURATION_GRAMMAR}$"},
            ],
            "description": "seconds, or a duration like 30s, 5m, 1h30m, 250ms, 7d, 2w",
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Secret(_Model):
    """A secret given by reference: the name of an environment variable, or a file."""

    def _resolve(self, env_name: str | None, file: Path | None) -> str | None:
        if env_name:
            value = os.environ.get(env_name)
            if value is None:
                raise ValueError(f"environment variable {env_name} is not set")
            return value.strip()
        if file is not None:
            return _secret_file(file)
        return None


def _secret_file(file: Path) -> str:
    """A secret from a regular file (never a FIFO or /dev/zero), as UTF-8 text."""
    try:
        read = read_regular(
            file, str(file), limit=64 * 1024, unreadable="cannot read {name}: {reason}"
        )
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    if isinstance(read, Skipped):
        raise ValueError(f"cannot read {file}: {read.reason}")
    try:
        return read[0].decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {file}: not UTF-8 text") from None


class BudgetSettings(_Model):
    """How many registry requests tagwatch may send per interval, and how many at once."""

    requests: int = Field(default=1000, ge=1)
    per: Duration = 3600.0
    concurrency: int = Field(default=16, ge=1, le=1024)

    _per = field_validator("per", mode="before")(_duration)


class RegistryEntry(_Secret):
    """One registry host: TLS, credentials by reference, request budget."""

    insecure: bool = False
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    allowed_auth_hosts: tuple[str, ...] = ()
    budget: BudgetSettings = BudgetSettings()
    request_deadline: Duration = 30.0
    check_deadline: Duration = 60.0

    _deadlines = field_validator("request_deadline", "check_deadline", mode="before")(_duration)

    def password(self) -> str | None:
        return self._resolve(self.password_env, self.password_file)


class WatchEntry(_Model):
    """A tag (or a tag pattern like `ghcr.io/org/app:release-*`) to poll."""

    ref: str
    interval: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    _interval = field_validator("interval", mode="before")(
        lambda v: None if v is None else _duration(v)
    )

    @field_validator("ref")
    @classmethod
    def _valid_ref(cls, value: str) -> str:
        repository, tag = cls._split(value)
        if _GLOB.search(repository):
            raise ValueError("patterns are allowed in the tag only (`repo:release-*`)")
        try:
            ImageRef.parse(f"{repository}:{tag}" if not _GLOB.search(tag) else repository)
        except InvalidReference as exc:
            raise ValueError(exc.problem) from exc
        if "@" in value:
            raise ValueError("a watch is a tag, not a digest")
        return value

    @staticmethod
    def _split(value: str) -> tuple[str, str]:
        name, tag, _ = split_reference(value)
        return name, tag or "latest"

    @property
    def is_pattern(self) -> bool:
        return bool(_GLOB.search(self._split(self.ref)[1]))

    @property
    def repository(self) -> ImageRef:
        """The repository (tag `latest` as a placeholder) a pattern is expanded in."""
        return ImageRef.parse(self._split(self.ref)[0])

    @property
    def tag_pattern(self) -> str:
        return self._split(self.ref)[1]

    def image(self) -> ImageRef:
        """The watched tag (not for patterns)."""
        return ImageRef.parse(self.ref)


class _RouteFilters(_Model):
    patterns: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    changes: tuple[Change | Condition | PolicyFailure, ...] = tuple(
        sorted(DEFAULT_CHANGES, key=str)
    )
    skew: bool = True
    clusters: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    same_images: bool = True

    def route(self, destination: str) -> Route:
        return Route(
            destination=destination,
            patterns=self.patterns,
            labels=dict(self.labels),
            changes=frozenset(self.changes),
            skew=self.skew,
            clusters=self.clusters,
            namespaces=self.namespaces,
            same_images=self.same_images,
        )


class RouteEntry(_RouteFilters):
    """Send matching moves and cluster findings to `channel`: by tag glob (`patterns`), watch
    `labels`, and for findings the `clusters` and `namespaces` (globs) they were found in.

    `changes` names move kinds and, optionally, finding conditions (`skewed`, `at_risk`,
    `stuck_rollout`; naming none takes all three unless `skew: false`) and policy failures
    (`signature_failed`; naming none, a route takes the failures of the moves it takes).
    """

    channel: str = Field(min_length=1)


class AlertWebhookEntry(_RouteFilters, _Secret):
    """A generic webhook: every matching alert POSTed as one signed JSON document.

    Filters as a Slack route's; the URL and the HMAC secret are given by reference.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url_env: str | None = None
    url_file: Path | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    timeout: Duration = 10.0

    _timeout = field_validator("timeout", mode="before")(_duration)

    @property
    def destination(self) -> str:
        return f"hook:{self.name}"

    def url(self) -> str | None:
        return self._resolve(self.url_env, self.url_file)

    def secret(self) -> str | None:
        return self._resolve(self.secret_env, self.secret_file)


class SlackSettings(_Secret):
    """Slack: a bot token (threads, lookups) or an incoming webhook URL, by reference."""

    bot_token_env: str | None = None
    bot_token_file: Path | None = None
    webhook_url_env: str | None = None
    webhook_url_file: Path | None = None
    base_url: str | None = None  # the Web API base URL (tests point it at a fake Slack)
    default_channel: str | None = None
    routes: tuple[RouteEntry, ...] = ()
    timeout: Duration = 10.0

    _timeout = field_validator("timeout", mode="before")(_duration)

    def bot_token(self) -> str | None:
        return self._resolve(self.bot_token_env, self.bot_token_file)

    def webhook_url(self) -> str | None:
        return self._resolve(self.webhook_url_env, self.webhook_url_file)

    @property
    def enabled(self) -> bool:
        return any(
            (self.bot_token_env, self.bot_token_file, self.webhook_url_env, self.webhook_url_file)
        )


class ClusterEntry(_Model):
    """A Kubernetes cluster to scan for digest skew."""

    name: str = Field(min_length=1)
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    selector: str | None = None
    interval: Duration = 600.0

    _interval = field_validator("interval", mode="before")(_duration)


class KeylessEntry(_Model):
    """Who may sign without a key: a Fulcio certificate's identity and its OIDC issuer, each
    exact or a regular expression over the whole value."""

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> KeylessEntry:
        self.identity_of()  # the core's rules: exactly one of each pair, valid expressions
        return self

    def identity_of(self) -> KeylessIdentity:
        return KeylessIdentity(
            identity=self.identity,
            identity_regexp=self.identity_regexp,
            issuer=self.issuer,
            issuer_regexp=self.issuer_regexp,
        )


class SigningPolicyEntry(_Model):
    """Who must have signed each new digest of the tags `images` matches (globs over
    `registry/repository:tag`): cosign public keys (PEM files), keyless identities, or both."""

    name: str = Field(min_length=1)
    images: tuple[str, ...] = Field(min_length=1)
    keys: tuple[Path, ...] = ()
    keyless: tuple[KeylessEntry, ...] = ()
    accept_index_signature: bool = True
    trust_root: str = "production"

    @model_validator(mode="after")
    def _someone_signs(self) -> SigningPolicyEntry:
        if not self.keys and not self.keyless:
            raise ValueError("a signing policy needs `keys` or `keyless`")
        return self

    def policy(self) -> SigningPolicy:
        """The policy, its key files read (a missing or unreadable file is a ConfigError)."""
        pems = []
        for path in self.keys:
            try:
                pems.append(path.read_text())
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not a text file"
                raise ConfigError(
                    f"signing policy {self.name!r}: cannot read key {path}: {why}"
                ) from None
        return SigningPolicy(
            self.name,
            self.images,
            public_keys=tuple(pems),
            keyless=tuple(k.identity_of() for k in self.keyless),
            accept_index_signature=self.accept_index_signature,
            trust_root=self.trust_root,
        )


class WebhookSecret(_Secret):
    """A webhook's shared secret (or GitHub's signing secret), by reference."""

    secret_env: str | None = None
    secret_file: Path | None = None

    def secret(self) -> str | None:
        return self._resolve(self.secret_env, self.secret_file)


class WebhookSettings(_Model):
    """Push webhooks; a kind without a secret is disabled (its endpoint answers 404)."""

    distribution: WebhookSecret = WebhookSecret()
    dockerhub: WebhookSecret = WebhookSecret()
    github: WebhookSecret = WebhookSecret()
    ecr: WebhookSecret = WebhookSecret()


class HttpSettings(_Secret):
    """Who may read the pages and the API: anyone who reaches `listen`, or holders of a token.

    The token never guards /healthz, /readyz, /metrics or the webhooks (they have their own).
    """

    read_token_env: str | None = None
    read_token_file: Path | None = None

    def read_token(self) -> str | None:
        return self._resolve(self.read_token_env, self.read_token_file)


class SchedulerSettings(_Model):
    """How the poller spreads and paces work."""

    default_interval: Duration = 300.0
    jitter: float = Field(default=0.1, ge=0, le=1)  # up to this share of the interval, random
    tick: Duration = 1.0
    delivery_interval: Duration = 5.0
    expand_interval: Duration = 300.0  # how often tag patterns and stored watches are re-read
    misfire_grace_time: Duration = 30.0
    lease_ttl: Duration = 15.0
    delivery_lease: Duration = 60.0  # an alert claimed by a replica that died is retried after this
    event_max_age: Duration = 86400.0  # recorded moves older than this when first routed: not sent
    batch_size: int = Field(default=500, ge=1)

    _durations = field_validator(
        "default_interval",
        "tick",
        "delivery_interval",
        "expand_interval",
        "misfire_grace_time",
        "lease_ttl",
        "delivery_lease",
        "event_max_age",
        mode="before",
    )(_duration)


class LogSettings(_Model):
    format: Literal["json", "text"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    """Everything `tagwatch run` needs; see config/tagwatch.example.yaml for every key."""

    model_config = SettingsConfigDict(
        env_prefix="TAGWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str | None = None
    listen: str = "127.0.0.1:8080"
    http: HttpSettings = HttpSettings()
    watches: tuple[WatchEntry, ...] = ()
    registries: dict[str, RegistryEntry] = Field(default_factory=dict)
    slack: SlackSettings = SlackSettings()
    clusters: tuple[ClusterEntry, ...] = ()
    webhooks: WebhookSettings = WebhookSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    log: LogSettings = LogSettings()
    signing: tuple[SigningPolicyEntry, ...] = ()
    alert_webhooks: tuple[AlertWebhookEntry, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (which comes in as init values).
        return (env_settings, init_settings)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT like 127.0.0.1:8080")
        return value

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def registry_settings(self) -> dict[str, RegistrySettings]:
        """Per-host settings for the registry client, secrets resolved."""
        return {
            host: RegistrySettings(
                insecure=entry.insecure,
                username=entry.username,
                password=entry.password(),
                max_concurrency=entry.budget.concurrency,
                allowed_auth_hosts=entry.allowed_auth_hosts,
                request_deadline=entry.request_deadline,
                check_deadline=entry.check_deadline,
            )
            for host, entry in self.registries.items()
        }

    def routes(self) -> list[Route]:
        """Alert routes; with a Slack webhook URL every Slack route goes to the one webhook
        destination. Generic webhooks (`alert_webhooks`) each add their own route."""
        webhook = bool(self.slack.webhook_url_env or self.slack.webhook_url_file)
        out = [r.route("webhook" if webhook else r.channel) for r in self.slack.routes]
        if self.slack.default_channel or (webhook and not out):
            out.append(Route(destination="webhook" if webhook else str(self.slack.default_channel)))
        out += [hook.route(hook.destination) for hook in self.alert_webhooks]
        return out


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling against config/tagwatch.example.yaml)"
    if kind == "missing":
        return "is required"
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _problems(exc: ValidationError) -> list[str]:
    return [f"{_location(tuple(e['loc']))}: {_message(e)}" for e in exc.errors()]


def _check_references(settings: Settings, *, service: bool) -> list[str]:
    """Secrets must resolve and Slack must be coherent; one problem per line.

    Without `service`, only what CLI commands use is checked (registry credentials, clusters):
    a Slack token or webhook secret the CLI never reads must not stop `tagwatch check`.
    """
    problems: list[str] = []
    for host, entry in settings.registries.items():
        if entry.password_env and entry.password_file:
            problems.append(f"registries.{host}: give password_env or password_file, not both")
        try:
            entry.password()
        except ValueError as exc:
            key = "password_env" if entry.password_env else "password_file"
            problems.append(f"registries.{host}.{key}: {exc}")
    if service:
        problems += _check_service_secrets(settings)
    problems += _check_clusters(settings)
    problems += _check_signing(settings.signing)  # `check` judges signatures too
    return problems


def _check_service_secrets(settings: Settings) -> list[str]:
    """What only `tagwatch run` reads: Slack and the webhook secrets."""
    problems: list[str] = []
    slack = settings.slack
    has_bot = bool(slack.bot_token_env or slack.bot_token_file)
    has_hook = bool(slack.webhook_url_env or slack.webhook_url_file)
    if has_bot and has_hook:
        problems.append("slack: give a bot token or a webhook URL, not both")
    for name, getter in (("bot_token", slack.bot_token), ("webhook_url", slack.webhook_url)):
        try:
            getter()
        except ValueError as exc:
            suffix = "_env" if getattr(slack, f"{name}_env") else "_file"
            problems.append(f"slack.{name}{suffix}: {exc}")
    if has_bot and not slack.routes and not slack.default_channel:
        problems.append(
            "slack.default_channel: is required with a bot token when no routes are set"
        )
    if (slack.routes or slack.default_channel) and not (has_bot or has_hook):
        problems.append("slack: routes need bot_token_env/bot_token_file or webhook_url_env/_file")
    names: set[str] = set()
    for index, entry in enumerate(settings.alert_webhooks):
        where = f"alert_webhooks[{index}] ({entry.name})"
        if entry.name in names:
            problems.append(f"alert_webhooks[{index}].name: {entry.name!r} is used twice")
        names.add(entry.name)
        try:
            if not entry.url():
                problems.append(f"{where}: give url_env or url_file")
            if not entry.secret():
                problems.append(f"{where}: give secret_env or secret_file (the HMAC key)")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    for kind in ("distribution", "dockerhub", "github", "ecr"):
        hook: WebhookSecret = getattr(settings.webhooks, kind)
        try:
            hook.secret()
        except ValueError as exc:
            suffix = "secret_env" if hook.secret_env else "secret_file"
            problems.append(f"webhooks.{kind}.{suffix}: {exc}")
    return problems


def _check_clusters(settings: Settings) -> list[str]:
    problems: list[str] = []
    names = [c.name for c in settings.clusters]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append(f"clusters[{index}].name: {name!r} is used twice")
    if not settings.clusters:
        return problems  # and no lightkube import for a configuration without clusters
    from tagwatch.cluster.config import ClusterSettings, load_config

    for index, cluster in enumerate(settings.clusters):
        if cluster.kubeconfig is None and cluster.context is None:
            continue  # in-cluster or the default kubeconfig: known only where it runs
        try:  # reads the file only: no request, no exec plugin
            load_config(ClusterSettings(kubeconfig=cluster.kubeconfig, context=cluster.context))
        except ConfigError as exc:
            problems.append(f"clusters[{index}] ({cluster.name}): {exc}")
    return problems


def _check_signing(entries: Sequence[SigningPolicyEntry]) -> list[str]:
    """Key files must be readable PEM public keys; policy names unique."""
    if not entries:
        return []  # and no cryptography import for a configuration without policies
    from tagwatch.signing.checks import PolicyKeys

    problems = []
    names = [e.name for e in entries]
    for index, entry in enumerate(entries):
        if entry.name in names[:index]:
            problems.append(f"signing[{index}].name: {entry.name!r} is used twice")
        try:
            PolicyKeys(entry.policy())
        except ConfigError as exc:
            problems.append(f"signing[{index}]: {exc}")
    return problems


def _config_text(path: Path) -> str:
    """The text of a configuration file: regular, at most 8 MiB, UTF-8 (a BOM is allowed)."""
    try:
        read = read_regular(
            path, str(path), unreadable="{name}: cannot read the configuration: {reason}"
        )
    except UsageError as exc:
        raise ConfigError(str(exc)) from exc
    if isinstance(read, Skipped):
        raise ConfigError(f"{path}: cannot read the configuration: {read.reason}")
    data = read[0]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path}: the configuration is UTF-16 text: save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (save it as UTF-8)") from None


def load_settings(path: Path | None = None, *, service: bool = True, **overrides: Any) -> Settings:
    """Read `path` (or $TAGWATCH_CONFIG; none: defaults), apply TAGWATCH_* overrides, validate.

    `service=False` (the CLI commands) leaves Slack and webhook secrets unresolved.
    Raises ConfigError whose message has one line per problem, each with its location.
    """
    if path is None and os.environ.get("TAGWATCH_CONFIG"):
        path = Path(os.environ["TAGWATCH_CONFIG"])
    data: dict[str, Any] = {}
    if path is not None:
        raw = yaml_mapping(
            _config_text(path),
            not_yaml=f"{path}: ",
            too_deep=f"{path}: nested too deeply to be a configuration",
            not_mapping=f"{path}: (top level): must be a mapping of settings",
        )
        if not all(isinstance(key, str) for key in raw):
            raise ConfigError(f"{path}: (top level): every key must be a string")
        data = raw
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_problems(exc))) from exc
    problems = _check_references(settings, service=service)
    if problems:
        raise ConfigError("\n".join(problems))
    return settings
