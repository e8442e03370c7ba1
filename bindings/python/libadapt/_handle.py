"""Ownership of C objects.

A Handle owns one C object and frees it exactly once, through weakref.finalize, when the
last reference to the handle goes. The Python object the user sees (a Model, a Dataset...)
holds one reference; everything that lets C memory escape holds another: numpy views of
parameters, datasets split from a parent, a context whose tape may still touch a model's
parameters. So close() frees at once when nothing else needs the object, and otherwise as
soon as the last dependent goes; no path leaves Python holding freed C memory.
"""
import weakref

from .errors import StateError


class Handle:
    __slots__ = ("ptr", "finalizer", "_keep", "__weakref__")

    def __init__(self, ptr, free, keep=()):
        self.ptr = ptr
        self._keep = keep  # what the C object borrows from: freed only after it
        self.finalizer = weakref.finalize(self, free, ptr)


class Owned:
    """Base of the objects that own a Handle: closed by close(), a with block, or when
    unreachable."""
    _handle = None
    _kind = "object"

    def _ptr(self):
        if self._handle is None:
            raise StateError(f"the {self._kind} is closed")
        return self._handle.ptr

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Releases the C object now, or once its last dependent (a numpy view of its
        memory, a dataset split from it, a context that used it) is gone."""
        self._handle = None

    def __enter__(self):
        self._ptr()
        return self

    def __exit__(self, *exc_info):
        self.close()
