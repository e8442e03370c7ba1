"""Python scalars and paths checked before they reach C.

ctypes truncates an int that does not fit its C type without a word (2**32 + 1 becomes 1 in
an int32_t) and passes a path with an embedded NUL as a shorter path; both would make the
library act on a value the caller never gave, so both are refused here.
"""
import ctypes as C
import operator
import os

from .errors import InvalidArgumentError

_INT_TYPES = {C.c_int8, C.c_int16, C.c_int32, C.c_int64, C.c_uint8, C.c_uint16, C.c_uint32,
              C.c_uint64, C.c_int, C.c_uint, C.c_long, C.c_ulong, C.c_size_t, C.c_ssize_t}
_UNSIGNED = {C.c_uint8, C.c_uint16, C.c_uint32, C.c_uint64, C.c_uint, C.c_ulong, C.c_size_t}
_FLOAT_TYPES = {C.c_float, C.c_double}


def int_range(ctype):
    bits = 8 * C.sizeof(ctype)
    if ctype in _UNSIGNED:
        return 0, 2 ** bits - 1
    return -2 ** (bits - 1), 2 ** (bits - 1) - 1


def checked_int(value, ctype, what):
    """`value` as a Python int that `ctype` holds exactly; bools count as 0/1."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None
    lo, hi = int_range(ctype)
    if not lo <= number <= hi:
        raise InvalidArgumentError(f"{what} = {number} does not fit in [{lo}, {hi}]")
    return number


def i32(value, what):
    return checked_int(value, C.c_int32, what)


def i64(value, what):
    return checked_int(value, C.c_int64, what)


def u64(value, what):
    return checked_int(value, C.c_uint64, what)


def checked_float(value, what):
    """A real number as a Python float; NaN and overflow are left for C to report."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    if isinstance(value, complex):
        raise TypeError(f"{what} must be real, not complex")
    return float(value)


def assign(struct, values, what):
    """Sets struct fields by name from a dict, each converted and range-checked."""
    types = dict(struct._fields_)
    for name, value in values.items():
        if name not in types or name == "struct_size":
            raise TypeError(f"{what}: unknown field {name!r}")
        field = f"{what}.{name}"
        if types[name] in _INT_TYPES:
            setattr(struct, name, checked_int(value, types[name], field))
        elif types[name] in _FLOAT_TYPES:
            setattr(struct, name, checked_float(value, field))
        else:
            raise TypeError(f"{field} is not a plain number field")


def path_bytes(path, what):
    """A str or os.PathLike path as the bytes C receives."""
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise InvalidArgumentError(f"{what}: path contains a NUL byte")
    return encoded


def text(value, what):
    """A str as the UTF-8 bytes C receives."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    encoded = value.encode()
    if b"\0" in encoded:
        raise InvalidArgumentError(f"{what} contains a NUL byte")
    return encoded
