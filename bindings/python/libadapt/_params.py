"""Params structs filled with the library's defaults.

The C `_params_init()` functions take the size of the caller's struct: the library writes
exactly that many bytes (its defaults for the fields these bindings know, zeros past them) and
sets struct_size to it, so the library later reads exactly the fields these bindings know.
"""
import ctypes as C

from ._native import lib


def new_params(struct_type):
    params = struct_type()
    getattr(lib, struct_type.init_function)(C.byref(params), C.sizeof(struct_type))
    return params
