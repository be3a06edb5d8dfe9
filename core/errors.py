"""The error tree. Findings are values, not exceptions: an exception is a fault.

    IntakeError                  anything the service raises on purpose
    ├── ConfigError              a setting is missing, malformed or unsafe (refused at start-up)
    ├── CatalogueError           a form definition is malformed (fails loudly at load)
    └── ReaderFault              the isolated reader itself failed (not the file): retry

Messages never carry personal data: they name settings, files of the project, rule ids.
"""


class IntakeError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(IntakeError):
    """A setting is missing, malformed or unsafe."""


class CatalogueError(IntakeError):
    """A form definition in the catalogue is malformed."""


class ReaderFault(IntakeError):
    """The reading machinery failed for a reason that is not the file's fault."""
