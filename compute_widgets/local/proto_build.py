"""Response bodies (our wire dicts) -> clarifai-grpc messages, for the gRPC door, fast.

protobuf's `json_format.ParseDict` is the reference, and it is slow in Python: it walks every
field of every nested message and parses each timestamp with strptime (250 µs for one nodepool,
35 ms for a page of 128: three times the handler's own work). Here each message type's fields
are looked up once (cached per descriptor) and the message is built by its constructor, which
upb runs in C. A body this path cannot take as is (a type the constructor refuses, a timestamp
it cannot read) falls back to `ParseDict`, so the answer is always ParseDict's; a key the
message does not define is refused the same way, naming it.
"""

from __future__ import annotations

import base64
from datetime import datetime
from functools import cache
from typing import Any

from google.protobuf import descriptor as d
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp

F = d.FieldDescriptor
_INT64 = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}
_TIMESTAMP = "google.protobuf.Timestamp"


class _Unusual(Exception):
    """This value is not for the fast path (e.g. a JSON-only well-known type)."""


@cache
def _fields(desc: d.Descriptor) -> dict[str, d.FieldDescriptor]:
    out = {f.json_name: f for f in desc.fields}
    out.update({f.name: f for f in desc.fields})
    return out


def _timestamp(value: Any) -> Timestamp:
    when = datetime.fromisoformat(value)  # 3.11: "Z" and offsets; our store writes microseconds
    if when.tzinfo is None:
        raise _Unusual(value)
    seconds = int(when.timestamp() // 1)
    return Timestamp(seconds=seconds, nanos=when.microsecond * 1000)


def _value(field: d.FieldDescriptor, value: Any) -> Any:
    if field.type == F.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name == _TIMESTAMP:
            return _timestamp(value)
        if name.startswith("google.protobuf."):  # Struct, Duration, wrappers: JSON forms
            return ParseDict(value, GetMessageClass(field.message_type)())
        return _build(field.message_type, value)
    if field.type in _INT64 and isinstance(value, str):
        return int(value)
    if field.type == F.TYPE_BYTES and isinstance(value, str):
        return base64.b64decode(value)
    return value


def _build(desc: d.Descriptor, data: dict[str, Any]) -> Any:
    fields = _fields(desc)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            raise ParseError(f'Message type "{desc.full_name}" has no field named "{key}".')
        if value is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            inner = field.message_type.fields_by_name["value"]
            kwargs[field.name] = {k: _value(inner, v) for k, v in value.items()}
        elif field.is_repeated:
            kwargs[field.name] = [_value(field, v) for v in value]
        else:
            kwargs[field.name] = _value(field, value)
    return GetMessageClass(desc)(**kwargs)


def build(body: dict[str, Any], message_class: type) -> Any:
    """`ParseDict(body, message_class())`, strictly (unknown keys raise ParseError), faster."""
    try:
        return _build(message_class.DESCRIPTOR, body)
    except ParseError:
        raise
    except (_Unusual, ValueError, TypeError, AttributeError):
        return ParseDict(body, message_class())
