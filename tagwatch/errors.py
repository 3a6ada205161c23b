"""The exceptions tagwatch raises; every one of them is a `TagwatchError`.

    TagwatchError
    ├── UsageError                 bad input from the user: exit 2
    │   ├── InvalidReference       an image reference that does not parse
    │   ├── InvalidDuration        a duration that does not follow the one grammar
    │   └── ConfigError            a configuration file or setting that is wrong
    ├── RegistryError              talking to a registry failed: exit 1; .registry, .status
    │   ├── RegistryUnavailable    connection refused, timed out, TLS failed, 5xx after retries
    │   │   └── DeadlineExceeded   no answer within the request or check deadline; .deadline
    │   ├── AuthenticationFailed   401 after the credentials we have (or token endpoint failed)
    │   ├── AccessDenied           403 / DENIED
    │   ├── RateLimited            429 after retries; .retry_after
    │   ├── DigestMismatch         a body that does not hash to the digest it was served under
    │   ├── ProtocolError          an answer that breaks the distribution spec
    │   └── TagNotFound            the registry has no such tag (or repository)
    ├── StoreError                 the database failed or is not migrated
    │   └── StoreUnusable          the configured database cannot be opened: exit 2
    ├── ClusterError               talking to Kubernetes failed
    │   ├── ClusterUnreachable
    │   └── ClusterAccessDenied
    ├── NotifyError                delivering an alert failed (it stays in the outbox)
    └── InternalError              an exception tagwatch did not expect (a bug), wrapped

The CLI turns a `UsageError` (and `StoreUnusable`) into exit 2 and any other `TagwatchError`
into exit 1, printing `str(exc)` as one line; the deploy gates (`skew`, `verify`, `drift`,
`lint`) answer 3 for a `RegistryError`, `ClusterUnreachable` or `ClusterAccessDenied`: they
could not find out.
Messages say what went wrong and what to do.
"""

from __future__ import annotations


class TagwatchError(Exception):
    """Base of every error tagwatch raises on purpose."""

    exit_code = 1


class UsageError(TagwatchError):
    """The user gave us something we cannot use; exit code 2."""

    exit_code = 2


class InvalidReference(UsageError, ValueError):
    """Raised when an image reference does not follow the distribution grammar."""

    def __init__(self, raw: str, problem: str) -> None:
        self.raw = raw
        self.problem = problem
        super().__init__(f"invalid image reference {raw!r}: {problem}")


class InvalidDuration(UsageError, ValueError):
    """Raised when a duration is not like `90s`, `5m`, `1h30m`, `7d`, or is absurd (NaN, 1e400).

    `.problem` is the part without the value, for messages that already name where it came from.
    """

    def __init__(self, raw: object, problem: str) -> None:
        self.raw = raw
        self.problem = problem
        shown = repr(raw)
        super().__init__(f"{shown if len(shown) <= 40 else shown[:36] + '...'} {problem}")


class ConfigError(UsageError):
    """Raised when the configuration (file, environment or flag) is invalid."""


class RegistryError(TagwatchError):
    """Raised when a registry request fails; `.registry` names the host, `.status` is the HTTP
    status that ended it (None when there was no answer)."""

    def __init__(self, registry: str, message: str, *, status: int | None = None) -> None:
        self.registry = registry
        self.status = status
        super().__init__(f"{registry}: {message}")


class RegistryUnavailable(RegistryError):
    """The registry could not be reached, or kept failing (5xx) after retries."""


class DeadlineExceeded(RegistryUnavailable):
    """The registry did not answer within `.deadline` seconds (a silent or drip-feeding host)."""

    def __init__(self, registry: str, message: str, *, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(registry, message)


class AuthenticationFailed(RegistryError):
    """The registry (or its token service) refused our credentials, or we had none."""


class AccessDenied(RegistryError):
    """The registry answered 403 / DENIED for this repository."""


class RateLimited(RegistryError):
    """The registry answered 429 after retries; `.retry_after` (seconds) says when to retry."""

    def __init__(
        self,
        registry: str,
        message: str,
        retry_after: float | None = None,
        *,
        status: int = 429,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(registry, message, status=status)


class DigestMismatch(RegistryError):
    """A manifest body did not hash to the digest the registry served it under."""


class ProtocolError(RegistryError):
    """The registry's answer breaks the distribution spec (bad JSON, bad digest header...)."""


class TagNotFound(RegistryError):
    """The registry says the tag (or its whole repository) does not exist."""

    def __init__(self, registry: str) -> None:
        super().__init__(registry, "tag not found in the registry", status=404)

    def __str__(self) -> str:  # the ref is printed beside it; the host would say it twice
        return "tag not found in the registry"


class StoreError(TagwatchError):
    """The database could not be reached, or is not at the expected schema."""


class StoreUnusable(StoreError):
    """The database the configuration names cannot be opened or is at another schema: exit 2."""

    exit_code = 2


class ClusterError(TagwatchError):
    """Reading from Kubernetes failed."""


class ClusterUnreachable(ClusterError):
    """The Kubernetes API server could not be reached."""


class ClusterAccessDenied(ClusterError):
    """The Kubernetes API server refused us (401/403): check RBAC in deploy/base/rbac.yaml."""


class NotifyError(TagwatchError):
    """Delivering an alert failed; it stays in the outbox and is retried."""


class InternalError(TagwatchError):
    """An exception tagwatch did not expect (a bug, or a library error not translated yet),
    wrapped so one failing tag is a counted result, not a failed cycle; `__cause__` has it."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"unexpected error: {type(exc).__name__}: {exc}")
