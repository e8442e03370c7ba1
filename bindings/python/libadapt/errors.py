"""Exceptions: one class per adapt_status, all under AdaptError.

Each carries `.status` (a Status) and `.message` (adapt_last_error() of the failed call, or
the binding's own explanation when the check happened in Python). Where a builtin exception
means the same thing the class derives from it too, so `except ValueError` still works.
"""
import builtins

from .enums import Status


class AdaptError(Exception):
    """A libadapt call failed; `.status` says how and `.message` says why."""
    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgumentError(AdaptError, ValueError):
    status = Status.INVALID_ARGUMENT


class ShapeError(AdaptError, ValueError):
    status = Status.SHAPE


class NonFiniteError(AdaptError, ValueError):
    status = Status.NONFINITE


class OutOfMemoryError(AdaptError, MemoryError):
    status = Status.OUT_OF_MEMORY


# The next two reuse builtin names as the header does; the package leaves them out of
# __all__ so that a star import cannot shadow the builtins.
class OverflowError(AdaptError, builtins.OverflowError):  # noqa: A001
    status = Status.OVERFLOW


class StateError(AdaptError, RuntimeError):
    status = Status.STATE


class UnsupportedError(AdaptError, NotImplementedError):
    status = Status.UNSUPPORTED


class IOError(AdaptError, OSError):  # noqa: A001
    status = Status.IO


class FormatError(AdaptError, ValueError):
    status = Status.FORMAT


class CancelledError(AdaptError):
    status = Status.CANCELLED


class InternalError(AdaptError, RuntimeError):
    status = Status.INTERNAL


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, ShapeError, NonFiniteError, OutOfMemoryError, OverflowError,
    StateError, UnsupportedError, IOError, FormatError, CancelledError, InternalError)}


def error_for_status(status, message):
    """The exception for a status the library returned; an unknown (newer) code still
    gives an AdaptError carrying the number."""
    try:
        status = Status(status)
    except ValueError:
        return AdaptError(message, status)
    return _BY_STATUS.get(status, AdaptError)(message, status)
