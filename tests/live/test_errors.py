"""The upstream error contract: which failures are transient, and records of them kept in a cache."""

from __future__ import annotations

import errno
import pickle

import requests

from plank.live.errors import (
    UpstreamError,
    clone_error,
    error_from_record,
    error_record,
    is_transient,
    to_upstream_error,
)


class NotFound(UpstreamError):
    """An upstream's own error class, as browse.tmdb has (keyword-only constructor)."""

    def __init__(self, message: str = "no such title", *, code: int = 34) -> None:
        super().__init__(message, transient=False, status=404)
        self.code = code


def test_transient_classification() -> None:
    def http_error(status: int, retry_after: str = "") -> requests.HTTPError:
        response = requests.Response()
        response.status_code = status
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return requests.HTTPError(response=response)

    assert is_transient(requests.Timeout())
    assert is_transient(requests.ConnectionError())
    assert is_transient(TimeoutError())
    assert is_transient(ConnectionResetError())
    assert is_transient(OSError(errno.ECONNREFUSED, "refused"))
    assert not is_transient(OSError(errno.ENOENT, "no such file"))
    assert not is_transient(requests.exceptions.SSLError())
    assert not is_transient(ValueError())
    assert is_transient(http_error(503)) and is_transient(http_error(429))
    assert not is_transient(http_error(404))
    err = to_upstream_error(http_error(429, "7"))
    assert (err.status, err.retry_after, err.transient) == (429, 7.0, True)
    assert "429" in err.message


def test_a_record_is_plain_data_raised_again_as_its_own_class() -> None:
    record = error_record(NotFound(code=9), at=123.0)
    record = pickle.loads(pickle.dumps(record))  # what another process reads from the cache
    assert (record["message"], record["transient"], record["at"]) == ("no such title", False, 123.0)
    again = error_from_record(record)
    assert type(again) is NotFound
    assert (again.code, again.status, again.message, str(again)) == (
        9,
        404,
        "no such title",
        "no such title",
    )


def test_a_record_of_a_class_that_is_gone_is_raised_as_an_upstream_error() -> None:
    record = error_record(UpstreamError("slow down", transient=True, retry_after=3), at=1.0)
    record["cls"] = "nowhere.to.be:Found"
    again = error_from_record(record)
    assert type(again) is UpstreamError
    assert (again.message, again.transient, again.retry_after) == ("slow down", True, 3)


def test_a_clone_is_a_copy_of_the_same_class() -> None:
    original = NotFound(code=7)
    clone = clone_error(original)
    assert clone is not original and type(clone) is NotFound
    assert (clone.code, clone.status, clone.message) == (7, 404, "no such title")
