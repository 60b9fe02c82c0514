"""A small error hierarchy. Each error carries what it is about (a file, a feed URL, a delivery target)
and chains its cause, so the CLI can print one clear sentence and `-v` can show the rest."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot reports to a person. exit_code is what the CLI exits with."""

    exit_code = 1


class ConfigError(BotError):
    """The configuration or the command line is wrong: fix the input and run again."""

    exit_code = 2


class StoreError(BotError):
    """The database cannot be opened, migrated or written."""


class LockHeldError(BotError):
    """Another process holds the database lock."""


class LibraryError(BotError):
    """A reading document cannot be read."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class MissingDocumentError(LibraryError):
    """A reading document or folder named in the configuration or on the command line is not there."""

    exit_code = 2


class DeliveryError(BotError):
    """A digest could not be delivered to one target (slack, log, commit). `maybe_sent`: the request
    went out and its outcome is unknown (a timeout), so it must not be re-sent blindly. `retry_after`:
    seconds the receiver asked us to wait before trying again (Slack's 429)."""

    def __init__(self, message: str, target: str, retryable: bool = True, maybe_sent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.target = target
        self.retryable = retryable
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after
