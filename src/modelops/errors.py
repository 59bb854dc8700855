"""Domain errors. The CLI maps them to exit codes; messages name the field, file or rule."""


class ModelOpsError(Exception):
    """Base class: a clear, one-line, user-facing failure."""

    exit_code = 2


class ConfigError(ModelOpsError):
    """A config file is missing, malformed or breaks its schema."""


class ContractError(ModelOpsError):
    """The model package does not honour the contract named in configs/model.yaml."""


class SchemaViolation(ModelOpsError):
    """Data broke a rule of the declared feature schema."""

    exit_code = 1


class NotRegistered(ModelOpsError):
    """A model version is not in the registry."""


class DigestMismatch(ModelOpsError):
    """An artifact's sha256 differs from the one recorded for it."""


class GateFailed(ModelOpsError):
    """The evaluation gate did not pass."""

    exit_code = 1


class MissingEvidence(ModelOpsError):
    """Evidence a check needs is absent; fail closed."""


class NoChampion(ModelOpsError):
    """No stable release exists yet."""


class ReleaseError(ModelOpsError):
    """Release files, model cards and overlays disagree, or a promotion is refused."""

    exit_code = 1


class GitHubError(ModelOpsError):
    """The GitHub API refused or failed a request."""


class MonitorError(ModelOpsError):
    """Monitoring could not evaluate the logs (too many malformed lines, unreadable labels...)."""


class MetricsUnavailable(ModelOpsError):
    """Live metrics could not be read (Prometheus unreachable, a query refused or ambiguous)."""
