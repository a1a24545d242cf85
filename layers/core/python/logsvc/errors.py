"""Errors that carry their HTTP meaning; the resolvers map them to responses in one place."""

from __future__ import annotations


def error_body(message: str, field: str | None = None) -> dict[str, object]:
    """The error envelope of every answer: the API's, the local server's, live tail's."""
    return {"success": False, "error": message, "field": field}


class ApiError(Exception):
    """A failure the client should see, with its status code and the field it concerns."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    """Authenticated, but the key lacks the scope or may not use the service."""

    status_code = 403


class NotFound(ApiError):
    status_code = 404


class PayloadTooLarge(ApiError):
    status_code = 413


class TooManyRequests(ApiError):
    """Over a limit (a daily quota, a rate limit); retry after Retry-After seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int, field: str | None = None):
        super().__init__(message, field=field, headers={"Retry-After": str(retry_after)})


class StoreUnavailable(Exception):
    """The SQL database or the archive could not be reached or refused the request."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(StoreUnavailable):
    """The SQL database could not be reached, was throttled, or failed."""


class DatabaseFull(DatabaseUnavailable):
    """The database refused a write for its size cap (D1: "Exceeded maximum DB size"; a
    SQLite file: SQLITE_FULL). Not the statement's fault: the writer makes room and tries
    again (logsvc.store.hot_windows), it never sets the entries aside."""


class ArchiveUnavailable(StoreUnavailable):
    """The archive could not be reached or failed."""
