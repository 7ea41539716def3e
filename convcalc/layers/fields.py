"""The types of spec fields: one clear message per field, never a list of union branches.

Each type is a plain validator (strict: booleans are not integers, floats are not integers) and
the JSON Schema that editors use to check the same thing.
"""

import datetime
import math
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from convcalc.arith import LIMIT
from convcalc.spec.document import yaml_text


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("convcalc", "{message}", {"message": message})


def show(value: Any) -> str:
    """A value read from a spec, in a message: what it is and, for a scalar, as YAML writes
    it (``the decimal .inf``, ``null``, ``the date 2024-01-01``), never a Python repr."""
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, float):
        return f"the decimal {yaml_text(value)}"
    if isinstance(value, str):
        digits = value.replace("..", "").replace(",", "").replace(" ", "")
        if value.strip() == "?" or (digits.isascii() and digits.isdigit()):
            return f'{value!r}: unknowns ("?" and ranges) are for `convcalc solve SPEC`'
        return f"the text {value!r}"
    if value is None:
        return "null"
    if isinstance(value, int):
        return yaml_text(value)
    if isinstance(value, datetime.date):  # YAML reads 2024-01-01 unquoted as a date
        kind = "timestamp" if isinstance(value, datetime.datetime) else "date"
        return f"the {kind} {yaml_text(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list | tuple) else f"a {type(value).__name__}"


def _is_int(value: Any) -> bool:
    """An integer (not a boolean); one beyond PyTorch's 64-bit limit is refused here."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not -LIMIT - 1 <= value <= LIMIT:
            raise _error(f"is beyond 2^63 − 1 ({LIMIT:,}), the largest integer PyTorch takes")
        return True
    return False


def _integer(minimum: int) -> Any:
    word = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"

    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            raise _error(f"must be {word}, not {show(value)}")
        return int(value)

    return check


def _dims(minimum: int) -> Any:
    word = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"

    def check(value: Any) -> int | tuple[int, ...]:
        if isinstance(value, list | tuple):
            if not 1 <= len(value) <= 3:
                raise _error(
                    f"a list must give 1 to 3 values (one per dimension), not {len(value)}"
                )
            for item in value:
                if not _is_int(item) or item < minimum:
                    raise _error(f"every entry must be {word}, not {show(item)}")
            return tuple(value)
        if not _is_int(value) or value < minimum:
            raise _error(f"must be {word} or a list of them, not {show(value)}")
        return int(value)

    return check


def _conv_padding(value: Any) -> int | tuple[int, ...] | str:
    if value in ("same", "valid"):
        return str(value)
    if isinstance(value, list | tuple):
        return _dims(0)(value)  # type: ignore[no-any-return]
    if not _is_int(value) or value < 0:
        raise _error(
            f"must be an integer ≥ 0, a list of them, 'same' or 'valid', not {show(value)}"
        )
    return int(value)


def _number(minimum: float | None = None, maximum: float | None = None) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise _error(f"must be a number, not {show(value)}")
        low = minimum is not None and value < minimum
        high = maximum is not None and value > maximum
        if low or high:
            if maximum is None:
                raise _error(f"must be at least {minimum:g}, not {value}")
            if minimum is None:
                raise _error(f"must be at most {maximum:g}, not {value}")
            raise _error(f"must be between {minimum:g} and {maximum:g}, not {value}")
        return float(value)

    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _error(f"must be true or false, not {show(value)}")
    return value


def _output_size(value: Any) -> int | tuple[int | None, ...]:
    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 3:
            raise _error(f"a list must give 1 to 3 sizes (one per dimension), not {len(value)}")
        for item in value:
            if item is not None and (not _is_int(item) or item < 1):
                raise _error(f"every entry must be a positive integer or null, not {show(item)}")
        return tuple(value)
    if not _is_int(value) or value < 1:
        raise _error(f"must be a positive integer or a list of them, not {show(value)}")
    return int(value)


def _input_shape(value: Any) -> tuple[int, ...]:
    form = "a list [channels, *spatial] with 1 to 3 spatial sizes, or [features]"
    if not isinstance(value, list | tuple):
        raise _error(f"must be {form}, not {show(value)}")
    if not 1 <= len(value) <= 4:
        raise _error(f"must be {form}, not a list of {len(value)} sizes")
    for item in value:
        if not _is_int(item) or item < 1:
            raise _error(f"every size must be a positive integer, not {show(item)}")
    return tuple(value)


_INT = {"type": "integer"}


def _ints(minimum: int) -> dict[str, Any]:
    return {**_INT, "minimum": minimum}


def _dims_schema(minimum: int) -> dict[str, Any]:
    item = _ints(minimum)
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 3}]}


PositiveInt = Annotated[int, PlainValidator(_integer(1)), WithJsonSchema(_ints(1))]
AnyInt = Annotated[int, PlainValidator(_integer(-(2**63))), WithJsonSchema(_INT)]
PositiveDims = Annotated[
    int | tuple[int, ...], PlainValidator(_dims(1)), WithJsonSchema(_dims_schema(1))
]
NonNegDims = Annotated[
    int | tuple[int, ...], PlainValidator(_dims(0)), WithJsonSchema(_dims_schema(0))
]
ConvPadding = Annotated[
    int | tuple[int, ...] | Literal["same", "valid"],
    PlainValidator(_conv_padding),
    WithJsonSchema({"anyOf": [*_dims_schema(0)["anyOf"], {"enum": ["same", "valid"]}]}),
]
Flag = Annotated[bool, PlainValidator(_flag), WithJsonSchema({"type": "boolean"})]
Number = Annotated[float, PlainValidator(_number()), WithJsonSchema({"type": "number"})]
Probability = Annotated[
    float,
    PlainValidator(_number(0.0, 1.0)),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
OutputSize = Annotated[
    int | tuple[int | None, ...],
    PlainValidator(_output_size),
    WithJsonSchema(
        {
            "anyOf": [
                _ints(1),
                {
                    "type": "array",
                    "items": {"anyOf": [_ints(1), {"type": "null"}]},
                    "minItems": 1,
                    "maxItems": 3,
                },
            ]
        }
    ),
]
InputShape = Annotated[
    tuple[int, ...],
    PlainValidator(_input_shape),
    WithJsonSchema({"type": "array", "items": _ints(1), "minItems": 1, "maxItems": 4}),
]


def int_list(minimum: int | None, allow_minus_one: bool = False, min_len: int = 1) -> Any:
    """A list of integers (``minimum`` None: any sign), e.g. permute's dims, reshape's shape."""
    word = "an integer" if minimum is None else f"an integer ≥ {minimum}"
    if allow_minus_one:
        word += " or -1"

    def check(value: Any) -> tuple[int, ...]:
        if not isinstance(value, list | tuple) or len(value) < min_len:
            raise _error(f"must be a list of at least {min_len} integers, not {show(value)}")
        for item in value:
            ok = _is_int(item) and (
                minimum is None or item >= minimum or (allow_minus_one and item == -1)
            )
            if not ok:
                raise _error(f"every entry must be {word}, not {show(item)}")
        return tuple(value)

    return check


def _ints_or_int(minimum: int | None) -> Any:
    """An integer, or a list of them (pad's per-side padding; layernorm's normalized_shape)."""
    as_list = int_list(minimum)
    single = _integer(-(2**63) if minimum is None else minimum)

    def check(value: Any) -> int | tuple[int, ...]:
        return as_list(value) if isinstance(value, list | tuple) else single(value)  # type: ignore[no-any-return]

    return check


def _scale(value: Any) -> float | tuple[float, ...]:
    """A positive number, or a list of them (upsample's scale_factor)."""
    items = value if isinstance(value, list | tuple) else [value]
    if not 1 <= len(items) <= 3:
        raise _error(f"a list must give 1 to 3 factors (one per dimension), not {len(items)}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or not item >= 0:
            raise _error(f"must be a number ≥ 0 or a list of them, not {show(item)}")
        if math.isinf(item):
            raise _error("must be finite")
    floats = tuple(float(v) for v in items)
    return floats if isinstance(value, list | tuple) else floats[0]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _error(f"must be text, not {show(value)}")
    return value


_NUMS = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "array"}]}
IntList = Annotated[
    tuple[int, ...], PlainValidator(int_list(None)), WithJsonSchema({"type": "array"})
]
NewShape = Annotated[
    tuple[int, ...],
    PlainValidator(int_list(1, allow_minus_one=True)),
    WithJsonSchema({"type": "array", "items": _INT, "minItems": 1}),
]
Sides = Annotated[
    int | tuple[int, ...],
    PlainValidator(_ints_or_int(None)),
    WithJsonSchema({"anyOf": [_INT, {"type": "array", "items": _INT}]}),
]
PositiveInts = Annotated[
    int | tuple[int, ...],
    PlainValidator(_ints_or_int(1)),
    WithJsonSchema({"anyOf": [_ints(1), {"type": "array", "items": _ints(1)}]}),
]


def _split_sizes(value: Any) -> int | tuple[int, ...]:
    """``x.split``'s sizes: an integer ≥ 1 (slices of that size), or a list of integers ≥ 0
    (one a slice; torch allows an empty one)."""
    if isinstance(value, list | tuple):
        return int_list(0)(value)  # type: ignore[no-any-return]
    return _integer(1)(value)  # type: ignore[no-any-return]


SplitSizes = Annotated[
    int | tuple[int, ...],
    PlainValidator(_split_sizes),
    WithJsonSchema({"anyOf": [_ints(1), {"type": "array", "items": _ints(0)}]}),
]
Scale = Annotated[float | tuple[float, ...], PlainValidator(_scale), WithJsonSchema(_NUMS)]
Text = Annotated[str, PlainValidator(_text), WithJsonSchema({"type": "string"})]


# PyTorch's device types (torch.device's own list) and the dtypes a parameter can have (it
# must be able to require gradients: floating point or complex)
DEVICE_TYPES = [
    "cpu",
    "cuda",
    "ipu",
    "xpu",
    "mkldnn",
    "opengl",
    "opencl",
    "ideep",
    "hip",
    "ve",
    "fpga",
    "maia",
    "xla",
    "lazy",
    "vulkan",
    "mps",
    "meta",
    "hpu",
    "mtia",
    "privateuseone",
]
PARAMETER_DTYPES = [
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "half",
    "float",
    "double",
    "complex32",
    "complex64",
    "complex128",
    "chalf",
    "cfloat",
    "cdouble",
]


def _device(value: Any) -> str:
    if not isinstance(value, str):
        raise _error(f"must be a device such as cpu or cuda:0, not {show(value)}")
    kind, _, index = value.partition(":")
    if kind not in DEVICE_TYPES or (index and not (index.isascii() and index.isdigit())):
        raise _error(
            f"must be a PyTorch device ({', '.join(DEVICE_TYPES[:3])}, ..., optionally with "
            f":N), not {show(value)}"
        )
    return value


def _dtype(value: Any) -> str:
    name = value.removeprefix("torch.") if isinstance(value, str) else None
    if name not in PARAMETER_DTYPES:
        raise _error(
            "must be a floating-point or complex dtype for parameters (float32, float16, "
            f"bfloat16, float64, ...), not {show(value)}"
        )
    return str(value)


Device = Annotated[
    str,
    PlainValidator(_device),
    WithJsonSchema({"type": "string", "pattern": r"^[a-z]+(:[0-9]+)?$"}),
]
TorchDtype = Annotated[str, PlainValidator(_dtype), WithJsonSchema({"type": "string"})]
NonNegative = Annotated[
    float, PlainValidator(_number(0.0)), WithJsonSchema({"type": "number", "minimum": 0})
]
