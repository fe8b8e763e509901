"""Settings from ``WATERSHED_*`` environment variables, validated at start.

This module (and the services' ``settings.py``, through :class:`Env`) is the only
place that reads the environment. A bad value stops the service with one line
naming the variable and what it expected.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from shared.affiliations import AffiliationsError, parse_mappings
from shared.affiliations import Mapping as Affiliation
from shared.forge.urls import AccountRef, RepoRef, parse_account_url, parse_repo_url
from shared.forgehosts import HostsError
from shared.githubhosts import GitHubHost, find_github_host, github_endpoints, parse_enterprise
from shared.gitlabhosts import DEFAULT_API_URL as GITLAB_API_URL
from shared.gitlabhosts import DEFAULT_GIT_URL as GITLAB_GIT_URL
from shared.gitlabhosts import GitLabHost, find_gitlab_host, gitlab_endpoints, parse_self_managed
from shared.secret import Secret

PREFIX = "WATERSHED_"


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


class Env:
    """Typed access to ``WATERSHED_*`` variables with clear errors."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if environ is None else environ)

    def raw(self, name: str) -> str | None:
        value = self._env.get(PREFIX + name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise SettingsError(
                f"{PREFIX}{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
                f" (got a value of {len(value)} characters)"
            )
        return value.rstrip("/")

    def url(self, name: str, default: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        return self.optional_url(name, schemes) or default

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise SettingsError(f"{PREFIX}{name} must be between {minimum} and {maximum}, got {number}")
        return number

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            # float() accepts "nan" and "inf"; both later break timedelta arithmetic.
            raise SettingsError(f"{PREFIX}{name} must be a finite number, got {value!r}")
        if number < minimum:
            raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, got {number}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{PREFIX}{name} must be true/false (or 1/0), got {value!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in choices:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def file_text(self, name: str) -> str | None:
        """The text of the file the variable names (a mounted Kubernetes Secret, say)."""
        path = self.raw(name)
        if path is None:
            return None
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise SettingsError(f"{PREFIX}{name}: cannot read {path}: {exc.strerror}") from None

    def secrets(self, name: str) -> tuple[Secret, ...]:
        """Comma-separated secrets, or one per line in the file named by ``<name>_FILE``."""
        values: list[str] = []
        inline = self.raw(name)
        if inline:
            values.extend(inline.split(","))
        text = self.file_text(name + "_FILE")
        if text:
            values.extend(text.replace(",", "\n").splitlines())
        return tuple(Secret(v.strip()) for v in values if v.strip())

    def origins(self, name: str) -> tuple[str, ...]:
        """Comma-separated web origins (``scheme://host[:port]``), exactly as browsers send them."""
        values = [v.strip().rstrip("/") for v in (self.raw(name) or "").split(",") if v.strip()]
        for value in values:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
                raise SettingsError(f"{PREFIX}{name}: {value!r} is not an origin like https://dashboard.example.org")
        return tuple(values)

    def github_enterprise(self, github_api_url: str) -> tuple[GitHubHost, ...]:
        """The ``GITHUB_ENTERPRISE_*`` variables (syntax in :mod:`shared.githubhosts`)."""
        try:
            return parse_enterprise(
                self.raw("GITHUB_ENTERPRISE_HOSTS"), self.raw("GITHUB_ENTERPRISE_GIT_URLS"),
                self.raw("GITHUB_ENTERPRISE_TOKENS"), self.file_text("GITHUB_ENTERPRISE_TOKENS_FILE"),
                github_api_url=github_api_url,
            )
        except HostsError as exc:
            raise SettingsError(str(exc)) from None

    def gitlab_self_managed(self, gitlab_api_url: str) -> tuple[GitLabHost, ...]:
        """The ``GITLAB_HOSTS`` variables (syntax in :mod:`shared.gitlabhosts`)."""
        try:
            return parse_self_managed(
                self.raw("GITLAB_HOSTS"), self.raw("GITLAB_GIT_URLS"),
                self.raw("GITLAB_HOST_TOKENS"), self.file_text("GITLAB_HOST_TOKENS_FILE"),
                gitlab_api_url=gitlab_api_url,
            )
        except HostsError as exc:
            raise SettingsError(str(exc)) from None

    def affiliations(self) -> tuple[Affiliation, ...]:
        """The user's email-domain mappings from the file ``AFFILIATIONS_FILE`` names (syntax in
        :mod:`shared.affiliations`); they override the shipped defaults."""
        text = self.file_text("AFFILIATIONS_FILE")
        if text is None:
            return ()
        try:
            return parse_mappings(text)
        except AffiliationsError as exc:
            raise SettingsError(f"{PREFIX}AFFILIATIONS_FILE ({self.raw('AFFILIATIONS_FILE')}) {exc}") from None


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("watershed"))


@dataclass(frozen=True)
class Settings:
    """Everything any service or the CLI can be configured with."""

    data_dir: Path
    nats_url: str | None
    database_url: str | None
    log_level: str = "info"
    log_format: str = "console"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    github_api_url: str = "https://api.github.com"
    github_git_url: str = "https://github.com"
    github_tokens: tuple[Secret, ...] = ()
    github_enterprise: tuple[GitHubHost, ...] = ()
    gitlab_api_url: str = GITLAB_API_URL
    gitlab_git_url: str = GITLAB_GIT_URL
    gitlab_tokens: tuple[Secret, ...] = ()
    gitlab_self_managed: tuple[GitLabHost, ...] = ()
    facade_allow_local: bool = False
    facade_all_branches: bool = False
    clones_dir: Path = Path()
    recollect_interval_s: float = 86400.0
    retry_interval_s: float = 3600.0
    scheduler_tick_s: float = 5.0
    scheduler_batch: int = 200
    scheduler_max_in_flight: int = 2000
    job_stuck_timeout_s: float = 21600.0
    leader_ttl_s: float = 15.0
    org_refresh_interval_s: float = 86400.0
    breadth_interval_s: float = 3600.0
    breadth_logins: int = 200
    views_refresh_interval_s: float = 3600.0
    job_ack_wait_s: float = 300.0
    job_max_deliver: int = 5
    shutdown_grace_s: float = 20.0
    processor_batch: int = 500
    processor_ack_wait_s: float = 60.0
    resolver_max_lookups: int = 500
    resolver_retry_days: float = 30.0
    affiliations: tuple[Affiliation, ...] = ()  # the user's; the processor merges them with the shipped list
    # The scheduler's REST API: bearer tokens that may change things (none: read-only API),
    # and the browser origins allowed to call it (none: no CORS headers at all).
    api_tokens: tuple[Secret, ...] = ()
    api_cors_origins: tuple[str, ...] = ()
    # How often the collector publishes its token pools' quota, and services poll JetStream
    # for their consumers' lag (the metrics and the API read both).
    quota_publish_interval_s: float = 15.0
    metrics_poll_interval_s: float = 15.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def github_endpoints(self) -> tuple[GitHubHost, ...]:
        """github.com, every Enterprise host, and the host of a non-default GitHub API URL."""
        return github_endpoints(self.github_api_url, self.github_git_url, self.github_tokens, self.github_enterprise)

    @property
    def github_hosts(self) -> frozenset[str]:
        """Repository hosts collected through the GitHub API."""
        return frozenset(e.host for e in self.github_endpoints)

    def github_host(self, host: str) -> GitHubHost | None:
        """API, git base and tokens for repositories on ``host``; None when it is no GitHub host."""
        return find_github_host(host, self.github_endpoints)

    @property
    def gitlab_endpoints(self) -> tuple[GitLabHost, ...]:
        """gitlab.com and every self-managed GitLab host."""
        return gitlab_endpoints(self.gitlab_api_url, self.gitlab_git_url, self.gitlab_tokens, self.gitlab_self_managed)

    @property
    def gitlab_hosts(self) -> frozenset[str]:
        """Repository hosts whose projects (and groups) are GitLab's."""
        return frozenset(e.host for e in self.gitlab_endpoints)

    def gitlab_host(self, host: str) -> GitLabHost | None:
        """API, git base and tokens for projects on ``host``; None when it is no GitLab host."""
        return find_gitlab_host(host, self.gitlab_endpoints)

    def repo_ref(self, text: str, *, allow_local: bool | None = None) -> RepoRef:
        """``text`` parsed as a repository URL, on this deployment's GitHub and GitLab hosts; local
        paths as the facade allows them unless ``allow_local`` says otherwise."""
        return parse_repo_url(text, github_hosts=self.github_hosts, gitlab_hosts=self.gitlab_hosts,
                              allow_local=self.facade_allow_local if allow_local is None else allow_local)

    def account_ref(self, text: str) -> AccountRef:
        """``text`` parsed as an organization's, user's or group's URL, on this deployment's hosts."""
        return parse_account_url(text, github_hosts=self.github_hosts, gitlab_hosts=self.gitlab_hosts)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every configured credential, for the log redaction."""
        return (*self.github_tokens, *(t for e in self.github_enterprise for t in e.tokens),
                *self.gitlab_tokens, *(t for e in self.gitlab_self_managed for t in e.tokens), *self.api_tokens)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# A bearer token short enough to guess is no lock; and redaction skips very short strings.
MIN_API_TOKEN_LENGTH = 16


def _api_tokens(tokens: tuple[Secret, ...]) -> tuple[Secret, ...]:
    for position, token in enumerate(tokens, 1):
        if len(token) < MIN_API_TOKEN_LENGTH:
            raise SettingsError(f"{PREFIX}API_TOKENS: token #{position} has {len(token)} characters;"
                                f" use at least {MIN_API_TOKEN_LENGTH} (e.g. `openssl rand -hex 32`)")
    return tokens


def _one_platform_per_host(settings: Settings) -> None:
    both = sorted(settings.github_hosts & settings.gitlab_hosts)
    if both:
        raise SettingsError(f"{PREFIX}GITLAB_HOSTS: {', '.join(both)} is configured as a GitHub host too;"
                            " a host is one forge")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    env = Env(environ)
    data_dir = Path(env.text("DATA_DIR", str(default_data_dir()))).expanduser()
    github_api_url = env.url("GITHUB_API_URL", "https://api.github.com")
    gitlab_api_url = env.url("GITLAB_API_URL", GITLAB_API_URL)
    settings = Settings(
        data_dir=data_dir,
        nats_url=env.optional_url("NATS_URL", ("nats", "tls")),
        database_url=env.optional_url("DATABASE_URL", ("postgresql", "postgres")),
        log_level=env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        log_format=env.choice("LOG_FORMAT", "console", ("console", "json")),
        http_host=env.text("HTTP_HOST", "127.0.0.1"),
        http_port=env.integer("HTTP_PORT", 8080, minimum=0, maximum=65535),
        github_api_url=github_api_url,
        github_git_url=env.url("GITHUB_GIT_URL", "https://github.com"),
        github_tokens=env.secrets("GITHUB_TOKENS"),
        github_enterprise=env.github_enterprise(github_api_url),
        gitlab_api_url=gitlab_api_url,
        gitlab_git_url=env.url("GITLAB_GIT_URL", GITLAB_GIT_URL),
        gitlab_tokens=env.secrets("GITLAB_TOKENS"),
        gitlab_self_managed=env.gitlab_self_managed(gitlab_api_url),
        facade_allow_local=env.flag("FACADE_ALLOW_LOCAL", False),
        facade_all_branches=env.flag("FACADE_ALL_BRANCHES", False),
        clones_dir=Path(env.text("CLONES_DIR", str(data_dir / "clones"))).expanduser(),
        recollect_interval_s=env.number("RECOLLECT_INTERVAL", 86400.0, minimum=1.0),
        retry_interval_s=env.number("RETRY_INTERVAL", 3600.0, minimum=1.0),
        scheduler_tick_s=env.number("SCHEDULER_TICK", 5.0, minimum=0.05),
        scheduler_batch=env.integer("SCHEDULER_BATCH", 200, minimum=1, maximum=100_000),
        scheduler_max_in_flight=env.integer("SCHEDULER_MAX_IN_FLIGHT", 2000, minimum=1, maximum=10_000_000),
        job_stuck_timeout_s=env.number("JOB_STUCK_TIMEOUT", 21600.0, minimum=60.0),
        leader_ttl_s=env.number("LEADER_TTL", 15.0, minimum=1.0),
        # Periodic work; 0 turns a task off.
        org_refresh_interval_s=env.number("ORG_REFRESH_INTERVAL", 86400.0, minimum=0.0),
        breadth_interval_s=env.number("BREADTH_INTERVAL", 3600.0, minimum=0.0),
        breadth_logins=env.integer("BREADTH_LOGINS", 200, minimum=1, maximum=1_000_000),
        views_refresh_interval_s=env.number("VIEWS_REFRESH_INTERVAL", 3600.0, minimum=0.0),
        job_ack_wait_s=env.number("JOB_ACK_WAIT", 300.0, minimum=1.0),
        job_max_deliver=env.integer("JOB_MAX_DELIVER", 5, minimum=1, maximum=100),
        shutdown_grace_s=env.number("SHUTDOWN_GRACE", 20.0, minimum=0.0),
        processor_batch=env.integer("PROCESSOR_BATCH", 500, minimum=1, maximum=10000),
        processor_ack_wait_s=env.number("PROCESSOR_ACK_WAIT", 60.0, minimum=1.0),
        resolver_max_lookups=env.integer("RESOLVER_MAX_LOOKUPS", 500, minimum=0, maximum=100_000),
        resolver_retry_days=env.number("RESOLVER_RETRY_DAYS", 30.0, minimum=0.0),
        affiliations=env.affiliations(),
        api_tokens=_api_tokens(env.secrets("API_TOKENS")),
        api_cors_origins=env.origins("API_CORS_ORIGINS"),
        quota_publish_interval_s=env.number("QUOTA_PUBLISH_INTERVAL", 15.0, minimum=1.0),
        metrics_poll_interval_s=env.number("METRICS_POLL_INTERVAL", 15.0, minimum=1.0),
    )
    _one_platform_per_host(settings)
    if overrides:
        if "data_dir" in overrides and "clones_dir" not in overrides and env.raw("CLONES_DIR") is None:
            overrides["clones_dir"] = Path(str(overrides["data_dir"])) / "clones"
        settings = settings.replace(**overrides)
    return settings
