"""Domain errors and the exit codes they map to; messages name the field, file or rule.

The exit codes are declared here once: the CLI returns them, and the workflows read only them.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # The check ran and its answer is no: the gate failed, monitoring alerts, release files disagree.
    NEGATIVE = 1
    # The check could not run: bad config or input, a missing file, an API that refused.
    ERROR = 2


class ModelOpsError(Exception):
    """Base class: a clear, one-line, user-facing failure."""

    exit_code: int = ExitCode.ERROR


class ConfigError(ModelOpsError):
    """A config file is missing, malformed or breaks its schema."""


class ContractError(ModelOpsError):
    """The model package does not honour the contract named in configs/model.yaml."""


class DataSourceError(ModelOpsError):
    """The configured data source could not be read (no such file, unreadable table, failed query)."""


class SchemaViolation(ModelOpsError):
    """Data broke a rule of the declared feature schema."""

    exit_code = ExitCode.NEGATIVE


class NotRegistered(ModelOpsError):
    """A model version is not in the registry."""


class DigestMismatch(ModelOpsError):
    """An artifact's sha256 differs from the one recorded for it."""


class GateFailed(ModelOpsError):
    """The evaluation gate did not pass."""

    exit_code = ExitCode.NEGATIVE


class MissingEvidence(ModelOpsError):
    """Evidence a check needs is absent; fail closed."""


class NoChampion(ModelOpsError):
    """No stable release exists yet."""


class ReleaseError(ModelOpsError):
    """Release files, model cards and overlays disagree, or a promotion is refused."""

    exit_code = ExitCode.NEGATIVE


class GitHubError(ModelOpsError):
    """The GitHub API refused or failed a request."""


class GitHubHTTPError(GitHubError):
    """GitHub answered with a client error (4xx other than a rate limit)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class MonitorError(ModelOpsError):
    """Monitoring could not evaluate the logs (too many malformed lines, unreadable labels...)."""


class MetricsUnavailable(ModelOpsError):
    """Live metrics could not be read (Prometheus unreachable, a query refused or ambiguous)."""
