"""Params structs filled with the library's defaults.

The C `_params_init()` functions write the whole struct as the library knows it, which for a
newer library than these bindings is larger than the ctypes mirror. They therefore write into
a roomy scratch buffer; the mirror takes its own fields from it and sets struct_size to its
own size, so the library reads exactly the fields these bindings know.
"""
import ctypes as C

from ._native import lib

# Far more than params structs grow by, as fields are appended one at a time.
_ROOM_FOR_NEWER_FIELDS = 4096


def new_params(struct_type):
    own_size = C.sizeof(struct_type)
    scratch = C.create_string_buffer(own_size + _ROOM_FOR_NEWER_FIELDS)
    getattr(lib, struct_type.init_function)(C.cast(scratch, C.POINTER(struct_type)))
    params = struct_type.from_buffer_copy(scratch.raw[:own_size])
    params.struct_size = own_size
    return params
