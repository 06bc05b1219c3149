"""Codecs: how a message's arguments become bytes and back.

``msgpack`` (the default) is encoded and decoded by the Rust core and is what Rust nodes and
the ``rosy`` command line read. ``json`` is read by them too. ``pickle`` carries any Python
object between Python nodes; the mesh announces it as a custom codec named ``pickle``, so tools
show its messages as bytes.

A codec of your own is any object with ``encode(obj) -> bytes`` and ``decode(data) -> obj``
(``data`` is a bytes-like object) and, optionally, a ``name`` announced to the mesh (its class
name otherwise). Pass it as ``build_node(..., data_codec=MyCodec())``.

Whatever the codec, a message's arguments take one shape before encoding (see ``shape``):
the keyword-argument wire format of docs/architecture.md.
"""

import json
import pickle
from typing import Any

from rosy import _rosy

__all__ = [
    "Codec",
    "MsgpackCodec",
    "JsonCodec",
    "PickleCodec",
    "msgpack_codec",
    "json_codec",
    "pickle_codec",
    "shape",
    "unshape",
]


class Codec:
    """Base class of codecs (optional: any object with ``encode`` and ``decode`` will do)."""

    name = "custom"

    def encode(self, obj: Any) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, data) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class MsgpackCodec(Codec):
    """msgpack, done in Rust; large byte strings are received as memoryviews."""

    name = "msgpack"

    def encode(self, obj: Any) -> bytes:
        return _rosy.encode_value(obj)

    def decode(self, data) -> Any:
        return _rosy.decode_value(data)


class JsonCodec(Codec):
    name = "json"

    def encode(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def decode(self, data) -> Any:
        return json.loads(bytes(data))


class PickleCodec(Codec):
    """Any picklable object, between Python nodes only. Unpickling runs code chosen by the
    sender: use it only among nodes you trust (as with the original rosy's default)."""

    name = "pickle"

    def encode(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, data) -> Any:
        return pickle.loads(data)


msgpack_codec = MsgpackCodec()
json_codec = JsonCodec()
pickle_codec = PickleCodec()


def _needs_wrapping(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    return isinstance(value, dict) and len(value) == 2 and "args" in value and "kwargs" in value


def shape(args: tuple, kwargs: dict):
    """A message's arguments as one value: ``{"args": [...], "kwargs": {...}}`` with keyword
    arguments, the argument itself when it is alone (and not a list, tuple or such a map), a
    list of the arguments otherwise."""
    if kwargs:
        return {"args": list(args), "kwargs": kwargs}
    if len(args) == 1 and not _needs_wrapping(args[0]):
        return args[0]
    return list(args)


def unshape(value: Any):
    """``(args, kwargs)`` of a value made by ``shape`` (or sent by a Rust node)."""
    if (
        isinstance(value, dict)
        and len(value) == 2
        and isinstance(value.get("args"), list)
        and isinstance(value.get("kwargs"), dict)
    ):
        return tuple(value["args"]), value["kwargs"]
    if isinstance(value, list):
        return tuple(value), None
    return (value,), None
