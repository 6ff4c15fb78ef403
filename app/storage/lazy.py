"""``computed_once``: a property computed on first read and kept on the instance.

Like ``functools.cached_property`` without its lock: on Python 3.11 every read of a
``cached_property`` that is not yet computed takes one lock shared by all instances, which
threads that create many small objects (the parser and the writer of a bulk load) then wait
on. Two threads reading a new value at once may both compute it; the value is the same.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class computed_once(Generic[T]):  # noqa: N801 - used as a decorator, like property
    def __init__(self, compute: Callable[[Any], T]):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Optional[Any], owner: Optional[type] = None) -> Any:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value  # later reads find it before this descriptor
        return value
