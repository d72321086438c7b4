"""Error types that separate the user's mistakes from the simulator's own faults.

`ConfigError` is for anything the user can fix (a config value, a unit, a file, a shape):
the command line prints its one-line message and exits with code 2. `SimulationError` is
an internal fault or a broken invariant: the command line prints a traceback and asks for
a report.
"""


class ConfigError(Exception):
    """A user-facing input error, reported as one line with the file and key or value."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.source = source
        self.key = key
        self.detail = message
        parts = []
        if source:
            parts.append(str(source))
        if key:
            parts.append(key)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SimulationError(RuntimeError):
    """An internal fault of the simulator: a broken invariant or a deadlocked model."""
