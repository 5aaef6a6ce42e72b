"""Typed models of Clarifai's compute resources, their wire JSON, and the validation rules.

Wire format (clarifai-api.md §3, §8):

* in:  snake_case or camelCase keys, enum names or integers, unknown fields ignored, JSON null
  treated as "not set" (`WireModel.from_wire`). Parsing is lenient about business rules, so
  anything real Clarifai answers parses; only a wrong type/shape raises `InvalidInput`.
* out: snake_case, integer enums, zero values ("" / 0 / False / None / {}) omitted, lists of
  resources kept as `[]`, timestamps as RFC 3339 UTC "…Z" (`WireModel.to_wire`).

The business rules (ID format, min <= max, ...) live here once, in `problems()` / `check()`,
and are reused by the widgets (inline feedback), the client (pre-flight) and the local server.
Every message names the field and says what to change.

The mechanism is generic: enums inherit `WireEnum` (names and unknown integers accepted via
`_missing_`), camelCase comes from pydantic's alias generator, and `to_wire` walks a per-class
plan computed once. Models add fields and rules, not serialization code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import IntEnum
from types import UnionType
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from compute_widgets.api.errors import InvalidInput, Problem, StatusCode

__all__ = [
    "AggregateOperator",
    "AutoscaleConfig",
    "CapacityType",
    "CloudProvider",
    "CloudRegion",
    "ComputeCluster",
    "ComputeInfo",
    "Deployment",
    "DeploymentNodepool",
    "DeploymentStatus",
    "Gettable",
    "ID_RULE",
    "InstanceType",
    "Key",
    "LogEntry",
    "MAX_DESCRIPTION",
    "MetricAggregate",
    "MetricFilter",
    "MetricLabel",
    "MetricPoint",
    "MetricSearchQuery",
    "MetricSeries",
    "MetricSeriesLabel",
    "MetricType",
    "Model",
    "ModelRef",
    "ModelVersion",
    "NodeCapacityType",
    "Nodepool",
    "NodepoolStatus",
    "SchedulingChoice",
    "SpecialHandling",
    "SpecialHandlingReason",
    "Status",
    "UINT32_MAX",
    "Visibility",
    "WireEnum",
    "WireModel",
    "Worker",
    "check_id",
    "format_duration",
    "format_timestamp",
    "parse_cpu",
    "parse_duration",
    "parse_memory_gib",
    "visible",
]

# --------------------------------------------------------------------------------------------
# Enums
# --------------------------------------------------------------------------------------------


class WireEnum(IntEnum):
    """IntEnum that also accepts its names (any case) and numeric strings.

    Unknown integers become pseudo-members (proto3 enums are open: a newer server may send a
    value we do not know, and the response must still parse). Unknown *names* are rejected.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            text = value.strip()
            member = cls.__members__.get(text) or cls.__members__.get(text.upper())
            if member is not None:
                return member
            if not re.fullmatch(r"-?\d+", text):
                return None
            value = int(text)
        if isinstance(value, int) and not isinstance(value, bool):
            pseudo = int.__new__(cls, value)
            pseudo._name_ = f"{cls.__name__.upper()}_{value}"
            pseudo._value_ = value
            cls._value2member_map_[value] = pseudo  # cache: same object next time
            return pseudo
        return None

    @classmethod
    def choices(cls) -> str:
        """"ON_DEMAND_TYPE (1), SPOT_TYPE (2)": the settable members, for messages."""
        return ", ".join(f"{m.name} ({int(m)})" for m in cls if int(m) != 0 or len(cls) <= 2)


class CapacityType(WireEnum):
    UKNOWN_CAPACITY_TYPE = 0  # [sic] the proto's spelling
    ON_DEMAND_TYPE = 1
    SPOT_TYPE = 2


class Gettable(WireEnum):
    UNKNOWN_VISIBILITY = 0
    PRIVATE = 10
    ORG = 30
    PUBLIC = 50


class NodepoolStatus(WireEnum):
    NODEPOOL_STATUS_UNKNOWN = 0
    NODEPOOL_STATUS_PENDING = 1
    NODEPOOL_STATUS_READY = 2
    NODEPOOL_STATUS_ERROR = 3
    NODEPOOL_STATUS_DELETED = 4


class SchedulingChoice(WireEnum):
    UNKNOWN_SCHEDULING_CHOICE = 0
    FAIL = 1
    RANDOM = 2
    PRICE = 3
    PERFORMANCE = 4
    NETWORK = 5
    UTILIZATION = 6
    PREFER_SPOT = 7
    PREFER_ONDEMAND = 8


class DeploymentStatus(WireEnum):
    ENABLED = 0
    DISABLED = 1


class MetricType(WireEnum):
    METRIC_TYPE_NOT_SET = 0
    MODEL_TTFT = 1
    MODEL_THROUGHPUT = 2
    MODEL_PROMPT_TOKEN_THROUGHPUT = 3
    MODEL_COMPLETION_TOKEN_THROUGHPUT = 4
    MODEL_REQUEST_COUNT = 5
    MODEL_E2E_LATENCY = 6
    NODEPOOL_NODE_COUNT = 51
    NODEPOOL_GPU_UTILIZATION = 52
    NODEPOOL_GPU_TENSOR_UTILIZATION = 53
    NODEPOOL_GPU_MEMORY_UTILIZATION = 54
    NODEPOOL_CPU_UTILIZATION = 55
    NODEPOOL_MEMORY_UTILIZATION = 56


class MetricLabel(WireEnum):
    METRIC_LABEL_NOT_SET = 0
    APP_ID = 1
    MODEL_ID = 2
    MODEL_VERSION_ID = 3
    HTTP_STATUS = 4
    COMPUTE_CLUSTER_ID = 5
    NODEPOOL_ID = 6


class AggregateOperator(WireEnum):
    OPERATOR_NOT_SET = 0
    AVG = 1
    SUM = 2
    MAX = 3
    MIN = 4
    P95 = 5
    P99 = 6
    P50 = 7
    COUNT = 8


class SpecialHandlingReason(WireEnum):
    REASON_NOT_SET = 0
    CONTACT_SALES = 1
    INTERNAL_ONLY = 2


# --------------------------------------------------------------------------------------------
# Small parsers (k8s quantities, Go durations, timestamps)
# --------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9,
            "T": 1e12, "P": 1e15, "E": 1e18}


def _quantity(value: str | float | int, what: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY.match(str(value))
    if m is None or (m.group(2) not in _BINARY and m.group(2) not in _DECIMAL):
        raise ValueError(f"{what} {value!r} is not a Kubernetes quantity (e.g. '3535m', '16Gi')")
    number, suffix = float(m.group(1)), m.group(2)
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])


def parse_cpu(value: str | float | int) -> float:
    """Kubernetes CPU quantity -> cores: "3535m" -> 3.535, "4" -> 4.0; "" -> 0.0."""
    if value == "" or value is None:
        return 0.0
    return _quantity(value, "CPU quantity")


def parse_memory_gib(value: str | float | int) -> float:
    """Kubernetes memory quantity -> GiB: "13878Mi" -> 13.55, "16Gi" -> 16.0, "1G" -> 0.93."""
    if value == "" or value is None:
        return 0.0
    return _quantity(value, "memory quantity") / 2**30


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w)")
_DURATION_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                  "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(s: str | float | int) -> float:
    """Go duration string -> seconds: "5m" -> 300.0, "1h30m" -> 5400.0, "10s" -> 10.0.

    Also accepts "7d"/"2w" (for simulation spans) and plain numbers (seconds).
    """
    if isinstance(s, int | float) and not isinstance(s, bool):
        return float(s)
    text = str(s).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if re.fullmatch(r"\d+(\.\d*)?", body):
        return sign * float(body)
    total, pos = 0.0, 0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNIT[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError(f"duration {s!r} is not like '10s', '5m' or '1h30m'")
    return sign * total


def format_duration(seconds: float) -> str:
    """Seconds -> Go duration string: 300 -> "5m", 5400 -> "1h30m", 0.5 -> "500ms"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"


def format_timestamp(ts: datetime) -> str:
    """RFC 3339 in UTC with a Z: "2026-11-28T01:02:03.123456Z" (no fraction when whole)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ts = ts.astimezone(UTC)
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ts.microsecond:06d}Z" if ts.microsecond else f"{base}Z"


def _to_utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _status_code(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in StatusCode.__members__:
        return int(StatusCode[value.strip()])
    return value


class _Marker:
    """Annotated metadata read by WireModel's per-class plan (not by pydantic)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_UINT = _Marker("uint32")  # proto uint32: whole number >= 0 (checked in problems())
_SECRET = _Marker("secret")  # never echoed in messages or reprs
_OMIT_EMPTY = _Marker("omit-empty")  # a list of messages that is not a resource list

UInt = Annotated[int, _UINT]
Timestamp = Annotated[datetime, AfterValidator(_to_utc)]

# --------------------------------------------------------------------------------------------
# Validation rules shared by the models
# --------------------------------------------------------------------------------------------

UINT32_MAX = 2**32 - 1  # every count and delay of these messages is a proto uint32
ID_RULE = "1 to 48 characters: letters, digits, '-' or '_', starting with a letter or a digit"
MAX_DESCRIPTION = 1000
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


# Characters that would act instead of show in a terminal or a notebook: C0/C1 controls (NUL,
# ESC of colour codes, CR), line/paragraph separators and the bidi overrides that reorder text.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")

_SHORT_ESCAPES = {9: "\\t", 10: "\\n", 13: "\\r"}


def visible(text: str) -> str:
    """`text` with each invisible or control character written as a repr-style escape
    (NUL -> \\x00, ESC -> \\x1b, U+202E -> \\u202e): for echoing user input in messages."""
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        if code < 0x100:
            return _SHORT_ESCAPES.get(code) or f"\\x{code:02x}"
        return f"\\u{code:04x}"

    return _INVISIBLE.sub(escape, text)


def check_id(value: Any, field: str = "id") -> str | None:
    """The project's ID rule (ARCHITECTURE.md): a message naming `field`, or None when fine."""
    if not isinstance(value, str):
        return f"{field} must be text, got {value!r}: use {ID_RULE}"
    if not value:
        return f"{field} is empty: choose an id of {ID_RULE}"
    if _ID_RE.fullmatch(value):
        return None
    if len(value) > 48:
        return (f"{field} '{visible(value[:20])}…' is {len(value)} characters long: shorten it "
                "to 48 or fewer")
    bad = sorted(set(_ID_BAD_CHARS.findall(value)))
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return (f"{field} '{visible(value)}' contains {shown}: use only letters, digits, '-' "
                f"and '_' (e.g. '{_ID_BAD_CHARS.sub('-', value).strip('-_') or 'my-id'}')")
    return f"{field} '{value}' starts with '{value[0]}': start it with a letter or a digit"


def _check_description(value: str, field: str) -> list[Problem]:
    if isinstance(value, str) and len(value) > MAX_DESCRIPTION:
        return [Problem(field, f"{field} is {len(value)} characters long: shorten it to "
                               f"{MAX_DESCRIPTION} characters or fewer")]
    return []


def _id_problems(value: Any, field: str, required: bool) -> list[Problem]:
    if not required and value == "":
        return []
    msg = check_id(value, field)
    return [Problem(field, msg)] if msg else []


# --------------------------------------------------------------------------------------------
# The generic base
# --------------------------------------------------------------------------------------------

_LIST_KEEP, _LIST_OMIT = 1, 2  # how to_wire treats an empty list field
# value kinds, decided once per field from its annotation (no isinstance per value)
_PLAIN, _ENUM, _MODEL, _TIME, _ANY = range(5)


def _strip_optional(tp: Any) -> Any:
    args = get_args(tp)
    if get_origin(tp) in (Union, UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else tp
    return tp


def _kind(tp: Any) -> int:
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    for cand in (tp, *get_args(tp)):
        if isinstance(cand, type):
            if issubclass(cand, IntEnum):
                return _ENUM
            if issubclass(cand, WireModel):
                return _MODEL
            if issubclass(cand, datetime):
                return _TIME
            if issubclass(cand, dict):
                return _ANY
    return _PLAIN if tp in (str, int, float, bool) else _ANY


def _emit_any(value: Any) -> Any:
    """Free JSON (metadata dicts): only enums, timestamps and models need converting."""
    if isinstance(value, dict):
        return {k: _emit_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_emit_any(v) for v in value]
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, WireModel):
        return value.to_wire()
    return value


def _emit(kind: int, value: Any, omit_empty_lists: bool) -> Any:
    if kind == _PLAIN:
        if type(value) is float and not math.isfinite(value):
            return str(value).replace("inf", "Infinity").replace("nan", "NaN")  # proto3 JSON
        return value
    if kind == _ENUM:
        return value if type(value) is str else int(value)  # label unions keep free names
    if kind == _MODEL:
        return value._wire(omit_empty_lists)
    if kind == _TIME:
        return format_timestamp(value)
    return _emit_any(value)


class WireModel(BaseModel):
    """Base of every API model: lenient wire parsing, proto3-style output, business rules."""

    model_config = ConfigDict(
        alias_generator=to_camel,  # camelCase accepted ...
        validate_by_name=True,  # ... and snake_case, the canonical form
        validate_by_alias=True,
        extra="ignore",
        coerce_numbers_to_str=True,  # `cpu_limit: 4` in YAML means "4"
        protected_namespaces=(),  # fields such as model_version
        validate_default=False,
    )

    # name -> (wire key, value kind, list mode or 0); filled once per class at definition
    _plan: ClassVar[dict[str, tuple[str, int, int]]] = {}
    _key_to_name: ClassVar[dict[str, str]] = {}  # wire/camel key -> field name (error paths)
    _uint_fields: ClassVar[tuple[str, ...]] = ()
    _secret_fields: ClassVar[frozenset[str]] = frozenset()
    _enum_fields: ClassVar[dict[str, type[WireEnum]]] = {}
    _model_fields: ClassVar[dict[str, type[WireModel]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        plan: dict[str, tuple[str, int, int]] = {}
        keys: dict[str, str] = {}
        uints, secrets = [], set()
        enums: dict[str, type[WireEnum]] = {}
        models: dict[str, type[WireModel]] = {}
        for name, info in cls.model_fields.items():
            wire = name.rstrip("_")  # `in_` is the wire key "in" (a Python keyword)
            keys[name] = name
            keys[wire] = name
            if info.alias:
                keys[info.alias] = name
            if _UINT in info.metadata:
                uints.append(name)
            if _SECRET in info.metadata:
                secrets.add(name)
            tp = _strip_optional(info.annotation)
            mode = 0
            if get_origin(tp) is list:
                (item,) = get_args(tp) or (Any,)
                item = _strip_optional(item)
                is_model = isinstance(item, type) and issubclass(item, WireModel)
                mode = _LIST_KEEP if is_model and _OMIT_EMPTY not in info.metadata else _LIST_OMIT
                tp = item
            for cand in (tp, *get_args(tp)):
                if isinstance(cand, type) and issubclass(cand, WireEnum):
                    enums[name] = cand
                    break
                if isinstance(cand, type) and issubclass(cand, WireModel):
                    models[name] = cand
                    break
            plan[name] = (wire, _kind(tp), mode)
        cls._plan = plan
        cls._key_to_name = keys
        cls._uint_fields = tuple(uints)
        cls._secret_fields = frozenset(secrets)
        cls._enum_fields = enums
        cls._model_fields = models

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_unset(cls, data: Any) -> Any:
        # proto3 JSON (and YAML `description:` with nothing after it) use null for "not set"
        if isinstance(data, dict) and None in data.values():
            return {k: v for k, v in data.items() if v is not None}
        return data

    # ---- wire in -----------------------------------------------------------------------------

    @classmethod
    def from_wire(cls, data: dict[str, Any] | Self) -> Self:
        """Parse wire JSON (snake/camel keys, enum names or ints); unknown keys are ignored.

        Raises InvalidInput naming the field path when a value has the wrong type or shape.
        Business rules are NOT applied here: call `check()` for those.
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            name = _snake(cls.__name__)
            raise InvalidInput(Problem(name, f"{name} must be a mapping of fields, "
                                             f"got {_short(data)}"))
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(_problems_from(cls, exc)) from None

    # ---- wire out ----------------------------------------------------------------------------

    def to_wire(self, *, omit_empty_lists: bool = False) -> dict[str, Any]:
        """Clarifai wire JSON: snake_case, int enums, zeros omitted, resource lists kept as [].

        `omit_empty_lists=True` drops empty lists too (used for YAML config files).
        """
        return self._wire(omit_empty_lists)

    def _wire(self, omit_empty_lists: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        plan = self._plan
        for name, value in self.__dict__.items():
            entry = plan.get(name)
            if entry is None:
                continue
            wire, kind, list_mode = entry
            if list_mode:
                if value:
                    out[wire] = [_emit(kind, v, omit_empty_lists) for v in value]
                elif list_mode == _LIST_KEEP and not omit_empty_lists:
                    out[wire] = []
            elif kind == _MODEL:
                if value is not None:
                    sub = value._wire(omit_empty_lists)
                    if sub:  # an all-zero message is omitted like any zero value
                        out[wire] = sub
            elif value:  # zero / "" / False / None / {} / zero enums are omitted
                out[wire] = _emit(kind, value, omit_empty_lists)
        return out

    # ---- business rules ----------------------------------------------------------------------

    def problems(self, *, require_id: bool = True) -> list[Problem]:
        """Every business-rule violation; each message names the field and what to change.

        `require_id=False` accepts an empty id (CLI config files may leave it to the command line).
        """
        return self._all_problems("", require_id)

    def _all_problems(self, at: str, require_id: bool) -> list[Problem]:
        """The rules of this model, plus the wire ranges of every nested message (a model's own
        rules may skip a nested one, e.g. the nodepools a deployment only refers to)."""
        out = self._problems(at, require_id)
        seen = {p.field for p in out}
        return out + [p for p in _range_problems(self, at) if p.field not in seen]

    def check(self, *, require_id: bool = True) -> Self:
        """Raise InvalidInput listing every problem; return self when there are none."""
        found = self.problems(require_id=require_id)
        if found:
            raise InvalidInput(found)
        return self

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        """Generic part: uint32 fields must be whole numbers in 0..UINT32_MAX. Subclasses extend it."""
        out = []
        for name in self._uint_fields:
            value = getattr(self, name)
            field = at + name
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(Problem(field, f"{field} must be a whole number >= 0, got {_short(value)}"))
            elif value < 0:
                out.append(Problem(field, f"{field} ({_show_int(value)}) is negative: set it to 0 "
                                          "or more"))
            elif value > UINT32_MAX:
                out.append(Problem(field, f"{field} ({_show_int(value)}) does not fit the wire's "
                                          f"uint32: use 0 to {UINT32_MAX}"))
        # enums are open on the way in (a newer server's value still parses), closed for input:
        # a number the enum lacks (gRPC carries it as is) is named, not stored
        for name, enum in self._enum_fields.items():
            value = getattr(self, name)
            values = value if isinstance(value, list) else [value]
            known = {int(m) for m in enum}
            for i, v in enumerate(values):
                if isinstance(v, int) and int(v) not in known:
                    field = at + self._plan[name][0] + (f"[{i}]" if isinstance(value, list) else "")
                    out.append(Problem(field, f"{field} must be one of {enum.choices()}, got {int(v)}"))
        return out

    def __repr_args__(self) -> Any:
        # Only the fields that are set (a Nodepool has ~20), and secrets masked.
        for name, value in super().__repr_args__():
            if _is_zero(value):
                continue
            yield name, ("****" if name in self._secret_fields else value)


def _range_problems(model: WireModel, at: str) -> list[Problem]:
    """The generic (uint32) problems of `model` and of every message nested in it."""
    out = WireModel._problems(model, at, False)
    for name in model._model_fields:
        value = getattr(model, name)
        wire = model._plan[name][0]
        if isinstance(value, WireModel):
            out += _range_problems(value, f"{at}{wire}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, WireModel):
                    out += _range_problems(item, f"{at}{wire}[{i}].")
    return out


def _show_int(value: int) -> str:
    """An integer for a message: in full up to 40 digits, else its size (a 10^5000 would not
    even convert: Python refuses int -> text beyond 4300 digits)."""
    if abs(value) < 10**40:
        return str(value)
    return f"a {int(abs(value).bit_length() * 0.30103) + 1}-digit number"


def _is_zero(value: Any) -> bool:
    if isinstance(value, WireModel):
        return next(iter(value.__repr_args__()), None) is None
    return value is None or (not isinstance(value, float) and not value)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _short(value: Any, secret: bool = False) -> str:
    if secret:
        return "a hidden value"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


_TYPE_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "datetime_parsing": "must be an RFC 3339 timestamp like 2026-01-02T03:04:05Z",
    "datetime_type": "must be an RFC 3339 timestamp like 2026-01-02T03:04:05Z",
    "datetime_from_date_parsing": "must be an RFC 3339 timestamp like 2026-01-02T03:04:05Z",
    "float_finite_number": "must be a finite number",
}


def _problems_from(cls: type[WireModel], exc: ValidationError) -> list[Problem]:
    """pydantic errors -> Problems with snake_case field paths and plain-language messages."""
    problems = []
    for err in exc.errors(include_url=False):
        path, owner, leaf = "", cls, ""
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
                continue
            if owner is None:  # inside a union branch name or a dict key
                continue
            if part not in owner._key_to_name:
                continue  # a union branch tag such as "MetricLabel" or "str"
            leaf = owner._key_to_name[part]
            owner_of_leaf = owner
            path += ("." if path else "") + (owner._plan[leaf][0])
            owner = owner._model_fields.get(leaf)
        if not leaf:
            owner_of_leaf = cls
        path = path or _snake(cls.__name__)
        # a secret field, or a message holding one (`key: <PAT>` instead of `key: {id: <PAT>}`)
        holder = owner_of_leaf._model_fields.get(leaf)
        secret = bool(leaf) and (leaf in owner_of_leaf._secret_fields or bool(holder and holder._secret_fields))
        got = _short(err.get("input"), secret)
        kind = err["type"]
        if kind == "enum" and leaf in owner_of_leaf._enum_fields:
            enum = owner_of_leaf._enum_fields[leaf]
            msg = f"{path} must be one of {enum.choices()}, got {got}"
        elif kind in _TYPE_MESSAGES:
            what = _TYPE_MESSAGES[kind]
            if what == "must be a whole number" and leaf in owner_of_leaf._uint_fields:
                what += " >= 0"
            msg = f"{path} {what}, got {got}"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{path}: {text}" + ("" if secret else f" (got {got})")
        problems.append(Problem(path, msg))
    # a union (e.g. MetricLabel | str) reports once per branch: keep the first per path
    seen, unique = set(), []
    for p in problems:
        if p.field not in seen:
            seen.add(p.field)
            unique.append(p)
    return unique


# --------------------------------------------------------------------------------------------
# Catalog: providers, regions, instance types
# --------------------------------------------------------------------------------------------


class SpecialHandling(WireModel):
    id: str = ""
    reason: SpecialHandlingReason = SpecialHandlingReason.REASON_NOT_SET
    done: bool = False


_SpecialList = Annotated[list[SpecialHandling], _OMIT_EMPTY]


class Visibility(WireModel):
    gettable: Gettable = Gettable.UNKNOWN_VISIBILITY


class CloudProvider(WireModel):
    id: str = ""
    name: str = ""
    special_handling: _SpecialList = Field(default_factory=list)


class CloudRegion(WireModel):
    id: str = ""
    special_handling: _SpecialList = Field(default_factory=list)


class ComputeInfo(WireModel):
    """Quantities are Kubernetes quantity strings ("3535m", "13878Mi"); memory is per accelerator."""

    cpu_limit: str = ""
    cpu_memory: str = ""
    cpu_requests: str = ""
    cpu_memory_requests: str = ""
    num_accelerators: UInt = 0
    accelerator_memory: str = ""
    accelerator_type: list[str] = Field(default_factory=list)
    accelerator_topology: list[str] = Field(default_factory=list)


class NodeCapacityType(WireModel):
    capacity_types: list[CapacityType] = Field(default_factory=list)

    @classmethod
    def for_choice(
        cls, spot: bool, spot_only: bool = False, allowed: Iterable[int] | None = None
    ) -> NodeCapacityType:
        """The spot -> capacity-types rule, the one place it is written (wizard, browser,
        planner, `%compute np create` and `plan` all call it).

        ``allowed`` is the instance type's ``allowed_capacity_types`` (empty or None: all).
        Spot on sends ``[SPOT_TYPE, ON_DEMAND_TYPE]``: spot preferred, on-demand fallback
        (Clarifai's documented ``[2, 1]``); ``[SPOT_TYPE]`` alone when ``spot_only`` or the type
        offers no on-demand. Spot off sends ``[ON_DEMAND_TYPE]``, except on a spot-only type,
        where spot is the only choice (the wizard forces its toggle on). Spot asked of a type
        that offers none is sent as asked, so the server's check names the field.
        """
        kinds = {int(k) for k in allowed or ()}
        od_ok = not kinds or CapacityType.ON_DEMAND_TYPE in kinds
        if spot_only or not od_ok:
            return cls(capacity_types=[CapacityType.SPOT_TYPE])
        if spot:
            return cls(capacity_types=[CapacityType.SPOT_TYPE, CapacityType.ON_DEMAND_TYPE])
        return cls(capacity_types=[CapacityType.ON_DEMAND_TYPE])


def _safe(parse: Any, value: Any) -> float:
    try:
        return parse(value)
    except ValueError:
        return 0.0  # lenient: a malformed quantity from a server reads as "unknown" (0)


class InstanceType(WireModel):
    id: str = ""
    description: str = ""
    compute_info: ComputeInfo = Field(default_factory=ComputeInfo)
    price: str = ""
    cloud_provider: CloudProvider = Field(default_factory=CloudProvider)
    region: str = ""
    allowed_capacity_types: NodeCapacityType | None = None
    feature_flag_group: str = ""
    special_handling: _SpecialList = Field(default_factory=list)
    architecture: str = ""
    available_compute_info: ComputeInfo | None = None

    @property
    def price_per_hour(self) -> float | None:
        """USD per hour, inferred from `price` (units of 1e-5 USD/s: USD/h = price * 0.036).

        None when there is no price. "Contact sales" types carry a placeholder ("65.000000")
        that cannot be told apart from a real price; see `special_handling` for those.
        """
        try:
            return float(self.price) * 0.036 if self.price else None
        except ValueError:
            return None

    @property
    def is_gpu(self) -> bool:
        """Has GPUs (accelerators that are not TPUs)."""
        ci = self.compute_info
        return ci.num_accelerators > 0 and not any("TPU" in t.upper() for t in ci.accelerator_type)

    @property
    def is_tpu(self) -> bool:
        ci = self.compute_info
        return ci.num_accelerators > 0 and any("TPU" in t.upper() for t in ci.accelerator_type)

    @property
    def accelerators(self) -> int:
        return self.compute_info.num_accelerators

    @property
    def accelerator(self) -> str:
        """"NVIDIA-A10G", or "" for CPU instances."""
        return self.compute_info.accelerator_type[0] if self.compute_info.accelerator_type else ""

    @property
    def gpu_memory_gib(self) -> float:
        """Memory of ONE accelerator, GiB (0.0 for CPU instances)."""
        return _safe(parse_memory_gib, self.compute_info.accelerator_memory)

    @property
    def vcpu(self) -> float:
        return _safe(parse_cpu, self.compute_info.cpu_limit)

    @property
    def memory_gib(self) -> float:
        return _safe(parse_memory_gib, self.compute_info.cpu_memory)

    @property
    def spot_allowed(self) -> bool:
        """Empty allowed_capacity_types means every capacity type is allowed."""
        act = self.allowed_capacity_types
        return not act or not act.capacity_types or CapacityType.SPOT_TYPE in act.capacity_types

    @property
    def on_demand_allowed(self) -> bool:
        act = self.allowed_capacity_types
        return not act or not act.capacity_types or CapacityType.ON_DEMAND_TYPE in act.capacity_types

    def capacity_types_for(self, spot: bool, spot_only: bool = False) -> NodeCapacityType:
        """What a nodepool of this type asks for with this spot choice (NodeCapacityType.for_choice)."""
        act = self.allowed_capacity_types
        return NodeCapacityType.for_choice(spot, spot_only, act.capacity_types if act else None)


# --------------------------------------------------------------------------------------------
# Compute clusters and nodepools
# --------------------------------------------------------------------------------------------


class Key(WireModel):
    """A PAT attached to a cluster. `id` is the secret: shown as '****' in reprs."""

    id: Annotated[str, _SECRET] = ""
    description: str = ""


class ComputeCluster(WireModel):
    id: str = ""
    description: str = ""
    cloud_provider: CloudProvider = Field(default_factory=CloudProvider)
    region: str = ""
    user_id: str = ""
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None
    visibility: Visibility = Field(default_factory=Visibility)
    cluster_type: str = ""
    managed_by: str = ""
    key: Key = Field(default_factory=Key)

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        out = super()._problems(at, require_id)
        out += _id_problems(self.id, at + "id", require_id)
        out += _check_description(self.description, at + "description")
        if not self.cloud_provider.id:
            f = at + "cloud_provider.id"
            out.append(Problem(f, f"{f} is empty: choose a cloud provider such as aws, gcp, "
                                  "vultr or oracle"))
        if not self.region:
            f = at + "region"
            out.append(Problem(f, f"{f} is empty: choose a region of the cloud provider "
                                  "(e.g. us-east-1 on aws)"))
        return out


class Nodepool(WireModel):
    id: str = ""
    description: str = ""
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None
    compute_cluster: ComputeCluster | None = None
    node_capacity_type: NodeCapacityType = Field(default_factory=NodeCapacityType)
    instance_types: list[InstanceType] = Field(default_factory=list)
    min_instances: UInt = 0
    max_instances: UInt = 0
    enforced_min_instances: UInt = 0
    enforced_max_instances: UInt = 0
    warm_instances: UInt = 0
    visibility: Visibility = Field(default_factory=Visibility)
    metadata: dict[str, Any] = Field(default_factory=dict)
    special_handling: _SpecialList = Field(default_factory=list)
    node_count: UInt = 0
    status: NodepoolStatus = NodepoolStatus.NODEPOOL_STATUS_UNKNOWN
    status_description: str = ""

    @property
    def spot(self) -> bool:
        """SPOT_TYPE is among the capacity types (spot preferred, maybe with on-demand fallback)."""
        return CapacityType.SPOT_TYPE in self.node_capacity_type.capacity_types

    @property
    def on_demand(self) -> bool:
        return CapacityType.ON_DEMAND_TYPE in self.node_capacity_type.capacity_types

    @property
    def instance_type_id(self) -> str:
        return self.instance_types[0].id if self.instance_types else ""

    @property
    def compute_cluster_id(self) -> str:
        return self.compute_cluster.id if self.compute_cluster else ""

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        out = super()._problems(at, require_id)
        out += _id_problems(self.id, at + "id", require_id)
        out += _check_description(self.description, at + "description")
        bad = {p.field for p in out}  # negative / non-integer counts already reported
        lo, hi = self.min_instances, self.max_instances
        if at + "max_instances" not in bad and hi < 1:
            f = at + "max_instances"
            out.append(Problem(f, f"{f} is {hi}: set it to at least 1"))
        if not bad & {at + "min_instances", at + "max_instances"} and hi >= 1 and lo > hi:
            f = at + "min_instances"
            out.append(Problem(f, f"{f} ({lo}) is above {at}max_instances ({hi}): "
                                  f"lower {at}min_instances or raise {at}max_instances"))
        f = at + "node_capacity_type.capacity_types"
        kinds = self.node_capacity_type.capacity_types
        if not kinds:
            out.append(Problem(f, f"{f} is empty: choose ON_DEMAND_TYPE (1), SPOT_TYPE (2) or both"))
        for i, kind in enumerate(kinds):
            if kind not in (CapacityType.ON_DEMAND_TYPE, CapacityType.SPOT_TYPE):
                out.append(Problem(f"{f}[{i}]", f"{f}[{i}] is {getattr(kind, 'name', kind)}: "
                                                f"use ON_DEMAND_TYPE (1) or SPOT_TYPE (2)"))
        f = at + "instance_types"
        if not self.instance_types:
            out.append(Problem(f, f"{f} is empty: choose one instance type (e.g. g5.xlarge)"))
        elif len(self.instance_types) > 1:
            out.append(Problem(f, f"{f} has {len(self.instance_types)} entries: a nodepool uses "
                                  "exactly one instance type, keep one"))
        for i, it in enumerate(self.instance_types):
            if not it.id:
                out.append(Problem(f"{f}[{i}].id", f"{f}[{i}].id is empty: set it to an instance "
                                                   "type id such as g5.xlarge"))
        return out


# --------------------------------------------------------------------------------------------
# Deployments
# --------------------------------------------------------------------------------------------


class AutoscaleConfig(WireModel):
    min_replicas: UInt = 0
    max_replicas: UInt = 0
    traffic_history_seconds: UInt = 0
    scale_down_delay_seconds: UInt = 0
    scale_up_delay_seconds: UInt = 0
    disable_packing: bool = False
    scale_to_zero_delay_seconds: UInt = 0
    soft_min_replicas: UInt = 0

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        out = super()._problems(at, require_id)  # negative / non-integer delays and counts
        bad = {p.field for p in out}
        lo, hi = self.min_replicas, self.max_replicas
        down, zero = self.scale_down_delay_seconds, self.scale_to_zero_delay_seconds
        if at + "max_replicas" not in bad and hi < 1:
            f = at + "max_replicas"
            out.append(Problem(f, f"{f} is {hi}: set it to at least 1"))
        if not bad & {at + "min_replicas", at + "max_replicas"} and hi >= 1 and lo > hi:
            f = at + "min_replicas"
            out.append(Problem(f, f"{f} ({lo}) is above {at}max_replicas ({hi}): "
                                  f"lower {at}min_replicas or raise {at}max_replicas"))
        names = {at + "scale_down_delay_seconds", at + "scale_to_zero_delay_seconds"}
        if not bad & names and down > 0 and zero > 0 and zero < down:
            f = at + "scale_to_zero_delay_seconds"
            out.append(Problem(f, f"{f} ({zero}) is below {at}scale_down_delay_seconds ({down}): "
                                  f"raise {f} to at least {down} or lower "
                                  f"{at}scale_down_delay_seconds"))
        return out


class ModelVersion(WireModel):
    """A model version: only `id` when a deployment's worker names it; ListModelVersions and
    GetModel fill the rest (`status` stays the raw {code, description} dict: a version's
    status codes are model codes such as 21100 MODEL_TRAINED, not compute ones)."""

    id: str = ""
    description: str = ""
    created_at: Timestamp | None = None
    status: dict[str, Any] = Field(default_factory=dict)
    visibility: Visibility | None = None
    app_id: str = ""
    user_id: str = ""


class ModelRef(WireModel):
    """The `model` of a Worker: which model (and version) a deployment serves."""

    id: str = ""
    user_id: str = ""
    app_id: str = ""
    model_version: ModelVersion | None = None


class Worker(WireModel):
    """Oneof on the wire: `model` | `workflow` | `user`."""

    model: ModelRef | None = None
    workflow: dict[str, Any] | None = None
    user: dict[str, Any] | None = None


class DeploymentNodepool(WireModel):
    id: str = ""
    compute_cluster: ComputeCluster = Field(default_factory=ComputeCluster)
    priority: UInt = 0


class Deployment(WireModel):
    id: str = ""
    user_id: str = ""
    autoscale_config: AutoscaleConfig = Field(default_factory=AutoscaleConfig)
    nodepools: list[Nodepool] = Field(default_factory=list)
    deployment_nodepools: list[DeploymentNodepool] = Field(default_factory=list)
    scheduling_choice: SchedulingChoice = SchedulingChoice.UNKNOWN_SCHEDULING_CHOICE
    visibility: Visibility = Field(default_factory=Visibility)
    metadata: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    worker: Worker = Field(default_factory=Worker)
    desired_worker: Worker | None = None
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None
    deploy_latest_version: bool = False
    special_handling: _SpecialList = Field(default_factory=list)
    graceful_deploy: bool = False
    deployment_metrics: dict[str, Any] = Field(default_factory=dict)
    status: DeploymentStatus = DeploymentStatus.ENABLED

    @property
    def nodepool_refs(self) -> list[tuple[str, str]]:
        """(compute_cluster_id, nodepool_id) pairs, from `nodepools` or `deployment_nodepools`."""
        refs = [(n.compute_cluster_id, n.id) for n in self.nodepools]
        return refs + [(d.compute_cluster.id, d.id) for d in self.deployment_nodepools]

    @property
    def model_id(self) -> str:
        return self.worker.model.id if self.worker.model else ""

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        out = super()._problems(at, require_id)
        out += _id_problems(self.id, at + "id", require_id)
        out += _check_description(self.description, at + "description")
        w = self.worker
        if w.model is None and not w.workflow and not w.user:
            f = at + "worker.model"
            out.append(Problem(f, f"{f} is not set: choose the model to deploy "
                                  f"({f}.id, {f}.user_id and {f}.app_id)"))
        elif w.model is not None:
            for name in ("id", "user_id", "app_id"):
                if not getattr(w.model, name):
                    f = f"{at}worker.model.{name}"
                    out.append(Problem(f, f"{f} is empty: set it to the model's {name}"))
        f = at + "nodepools"
        if not self.nodepools and not self.deployment_nodepools:
            out.append(Problem(f, f"{f} is empty: place the deployment on at least one nodepool "
                                  "(id and compute_cluster.id)"))
        if self.nodepools and self.deployment_nodepools:
            out.append(Problem(f, f"{f} and {at}deployment_nodepools are both set: use only one "
                                  f"of them (deployment_nodepools when you need priorities)"))
        refs = [(f"{at}nodepools[{i}]", n.id, n.compute_cluster_id)
                for i, n in enumerate(self.nodepools)]
        refs += [(f"{at}deployment_nodepools[{i}]", d.id, d.compute_cluster.id)
                 for i, d in enumerate(self.deployment_nodepools)]
        for where, np_id, cc_id in refs:
            if not np_id:
                out.append(Problem(f"{where}.id", f"{where}.id is empty: set it to the nodepool's id"))
            if not cc_id:
                g = f"{where}.compute_cluster.id"
                out.append(Problem(g, f"{g} is empty: set it to the id of the nodepool's "
                                      "compute cluster"))
        for i, d in enumerate(self.deployment_nodepools):
            out += d._problems(f"{at}deployment_nodepools[{i}].", require_id)
            if isinstance(d.priority, int) and d.priority > 9:
                g = f"{at}deployment_nodepools[{i}].priority"
                out.append(Problem(g, f"{g} ({d.priority}) is out of range: use 0 to 9"))
        if self.autoscale_config.to_wire():  # an all-zero config means "server defaults"
            out += self.autoscale_config._problems(at + "autoscale_config.", require_id)
        return out


# --------------------------------------------------------------------------------------------
# Status, logs, metrics
# --------------------------------------------------------------------------------------------


class Status(WireModel):
    code: Annotated[int, BeforeValidator(_status_code)] = 0
    description: str = ""
    details: str = ""
    req_id: str = ""

    @property
    def ok(self) -> bool:
        return self.code == StatusCode.SUCCESS


class LogEntry(WireModel):
    message: str = ""
    log_type: str = ""
    url: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


# A label is a MetricLabel on Clarifai's wire; our local server adds free names
# ("capacity_type", "state"). Known names become the enum, anything else stays a string.
def _label(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper() in MetricLabel.__members__:
        return MetricLabel[value.strip().upper()]
    if isinstance(value, int) and not isinstance(value, bool | MetricLabel):
        return MetricLabel(value)
    return value


_Label = Annotated[MetricLabel | str, BeforeValidator(_label)]


class MetricFilter(WireModel):
    label: _Label = MetricLabel.METRIC_LABEL_NOT_SET
    equals: str = ""
    in_: list[str] = Field(default_factory=list, alias="in")

    @field_validator("in_", mode="before")
    @classmethod
    def _unwrap_in(cls, value: Any) -> Any:
        # wire shape is {"in": {"in": [...]}} (MetricFilter.MultiValues); accept a bare list too
        return value.get("in", []) if isinstance(value, dict) else value

    def _wire(self, omit_empty_lists: bool) -> dict[str, Any]:
        out = super()._wire(omit_empty_lists)
        if "in" in out:
            out["in"] = {"in": out["in"]}
        return out


class MetricAggregate(WireModel):
    operator: AggregateOperator = AggregateOperator.OPERATOR_NOT_SET
    labels: list[_Label] = Field(default_factory=list)


class MetricSearchQuery(WireModel):
    metric_type: MetricType = MetricType.METRIC_TYPE_NOT_SET
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    resolution: str = ""
    filters: list[MetricFilter] = Field(default_factory=list)
    aggregate: MetricAggregate | None = None

    @property
    def resolution_seconds(self) -> float:
        return parse_duration(self.resolution) if self.resolution else 0.0

    def _problems(self, at: str, require_id: bool) -> list[Problem]:
        out = super()._problems(at, require_id)
        if self.resolution:
            try:
                if parse_duration(self.resolution) <= 0:
                    raise ValueError
            except ValueError:
                f = at + "resolution"
                out.append(Problem(f, f"{f} {self.resolution!r} is not a positive duration: "
                                      "use a Go duration such as '1m', '5m' or '1h'"))
        if self.start_time and self.end_time and self.end_time < self.start_time:
            f = at + "end_time"
            out.append(Problem(f, f"{f} is before {at}start_time: swap them or move {f} later"))
        return out


class MetricPoint(WireModel):
    timestamp: Timestamp | None = None
    value: float = 0.0


class MetricSeriesLabel(WireModel):
    name: _Label = MetricLabel.METRIC_LABEL_NOT_SET
    value: str = ""


class MetricSeries(WireModel):
    labels: list[MetricSeriesLabel] = Field(default_factory=list)
    value: list[MetricPoint] = Field(default_factory=list)

    def label_dict(self) -> dict[str, str]:
        """{"NODEPOOL_ID": "np1", "capacity_type": "spot"}: names as strings."""
        return {getattr(lb.name, "name", lb.name): lb.value for lb in self.labels}


# --------------------------------------------------------------------------------------------
# Models to deploy (ListModels / GetModel / ListModelVersions)
# --------------------------------------------------------------------------------------------


class Model(WireModel):
    """A model of Clarifai's catalog (read-only here): what a deployment's worker can serve.

    `model_version` is the newest version (GetModel, ListModels). `ref()` gives the worker's
    `ModelRef` for it or for a chosen version.
    """

    id: str = ""
    name: str = ""
    user_id: str = ""
    app_id: str = ""
    model_type_id: str = ""
    description: str = ""
    notes: str = ""
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None
    visibility: Visibility | None = None
    model_version: ModelVersion | None = None
    toolkits: list[str] = Field(default_factory=list)
    use_cases: list[str] = Field(default_factory=list)
    version_count: int = 0

    @property
    def path(self) -> str:
        """ "owner / app / model", as the picker shows it."""
        return " / ".join(x for x in (self.user_id, self.app_id, self.id) if x)

    def ref(self, version_id: str | None = None) -> ModelRef:
        """The worker's reference to this model at `version_id` (default: the newest version)."""
        vid = version_id if version_id is not None else (
            self.model_version.id if self.model_version is not None else "")
        return ModelRef(id=self.id, user_id=self.user_id, app_id=self.app_id,
                        model_version=ModelVersion(id=vid) if vid else None)
