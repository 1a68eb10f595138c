"""The one error tree of Medley. Each class docstring is its default message.

    MedleyError
    ├── JobNotFoundError
    ├── UnknownJobError
    ├── InvalidArgumentsError
    │   ├── PayloadTooLargeError
    │   └── InvalidScheduleError
    ├── InvalidTransitionError
    ├── RecurringJobNotFoundError
    ├── BatchNotFoundError
    ├── LimitNotFoundError
    ├── BatchClosedError
    ├── DuplicateJobError
    ├── WaitTimeoutError
    ├── ConfigError
    │   └── InvalidDatabaseUrlError
    └── StorageError
        ├── StorageUnavailableError
        └── MigrationRequiredError
            └── SchemaTooNewError

Adapters translate driver errors into this tree at one boundary; nothing above
`infrastructure/jobs/storage` sees a psycopg or sqlite3 exception.
"""

from __future__ import annotations


class MedleyError(Exception):
    """A Medley operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class JobNotFoundError(MedleyError):
    """No job has this id."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} not found")


class UnknownJobError(MedleyError):
    """No job is registered under this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"unknown job {name!r}: no job is registered under this name "
            "(is its module imported? see --import / MEDLEY_IMPORTS)"
        )


class InvalidArgumentsError(MedleyError):
    """The job's arguments cannot be stored."""


class PayloadTooLargeError(InvalidArgumentsError):
    """The job's serialised arguments exceed the payload limit."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"job arguments are {size} bytes as JSON, over the limit of {limit} bytes")


class InvalidTransitionError(MedleyError):
    """The job cannot move from its current state to the requested one."""

    def __init__(self, job_id: int, from_state: str, to_state: str) -> None:
        self.job_id = job_id
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(f"job {job_id} is {from_state}: it cannot become {to_state}")


class DuplicateJobError(MedleyError):
    """A live job already holds this unique key."""

    def __init__(self, unique_key: str) -> None:
        self.unique_key = unique_key
        super().__init__(f"a live job already holds unique key {unique_key!r}")


class WaitTimeoutError(MedleyError):
    """The job did not reach a final state in time."""

    def __init__(self, job_id: int, timeout: float) -> None:
        self.job_id = job_id
        self.timeout = timeout
        super().__init__(f"job {job_id} did not reach a final state within {timeout:g} s")


class ConfigError(MedleyError):
    """The configuration is invalid."""


class InvalidDatabaseUrlError(ConfigError):
    """The database URL is not one Medley understands."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"invalid database URL {url!r}: expected postgresql://... or sqlite:///path.db"
        )


class StorageError(MedleyError):
    """The job storage failed."""


class StorageUnavailableError(StorageError):
    """The job storage cannot be reached."""


class MigrationRequiredError(StorageError):
    """The database schema is behind the code: run `medley migrate`."""


class SchemaTooNewError(MigrationRequiredError):
    """The database schema is newer than this version of Medley knows."""

    def __init__(self, applied: int, known: int) -> None:
        self.applied = applied
        self.known = known
        super().__init__(
            f"the database schema is at version {applied} but this Medley knows only up to "
            f"{known}: upgrade Medley before using this database"
        )


# --- workflows --------------------------------------------------------------------------


class InvalidScheduleError(InvalidArgumentsError):
    """The cron expression or time zone is not valid."""


class RecurringJobNotFoundError(MedleyError):
    """No recurring job has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"recurring job {name!r} not found")


class LimitNotFoundError(MedleyError):
    """No limit has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"limit {name!r} not found")


class BatchNotFoundError(MedleyError):
    """No batch has this id."""

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        super().__init__(f"batch {batch_id} not found")


class BatchClosedError(MedleyError):
    """The batch has finished: it takes no more jobs."""

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        super().__init__(f"batch {batch_id} has finished: it takes no more jobs")
