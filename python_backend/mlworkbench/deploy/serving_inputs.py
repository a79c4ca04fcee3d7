"""Scoring requests read and checked against the model's signature before the model sees them.

The formats are MLflow's (`dataframe_split`, `dataframe_records`, `instances`, `inputs`, CSV),
and whatever passes here is still parsed by MLflow itself on the pyfunc path, so predictions are
MLflow's. What this adds is an answer a client can act on: a body that is not JSON or CSV is a
400 saying why, and a column that is missing, not in the signature, or of the wrong type is a
422 naming it, where MLflow would ignore an extra column, cast `"1.5"` to a number, or fail
inside the model with a stack trace. For a signature of plain numeric columns (or a 2-D numeric
tensor), the checked values also come back as rows in the signature's order, which the fast
path of `serving_model` turns into one numpy array.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DF_SPLIT = "dataframe_split"
DF_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
PARAMS = "params"
INT_RANGE = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}
# MLflow's DataType names, grouped by the JSON values each accepts.
_FLOAT_TYPES = {"double": 64, "float": 32}
_INT_TYPES = {"long": 64, "integer": 32}


class RequestRejected(Exception):
    """A request the server answers with `status` and MLflow's error shape; never raised out of
    the server (the library's typed errors are `MlWorkbenchError`s, this is an HTTP reply)."""

    def __init__(
        self, status: int, error_code: str, message: str, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.field = field

    def body(self) -> bytes:
        shape: dict[str, str] = {"error_code": self.error_code, "message": self.message}
        if self.field is not None:
            shape["field"] = self.field
        return json.dumps(shape).encode()


def bad_request(message: str, field: str | None = None) -> RequestRejected:
    return RequestRejected(400, "BAD_REQUEST", message, field)


def schema_mismatch(message: str, field: str) -> RequestRejected:
    return RequestRejected(422, "INVALID_PARAMETER_VALUE", message, field)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "float", "int", "bool", "str", or "any" (not checked here: MLflow checks it)
    bits: int  # 64/32 for float and int columns
    required: bool


@dataclass(frozen=True)
class InputRules:
    """What a request must hold, from the model's input schema."""

    columns: tuple[Column, ...] = ()  # a signature of named columns
    tensor_width: int | None = None  # a 2-D tensor signature of shape (-1, width)
    tensor_kind: str = "any"

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def rules_from_schema(schema: Any) -> InputRules | None:
    """The rules of an MLflow `Schema`, or None when there is none (no signature) or it is of a
    shape this module does not check (several tensors, unnamed columns): MLflow alone judges."""
    if schema is None:
        return None
    if schema.is_tensor_spec():
        specs = schema.inputs
        if len(specs) != 1 or specs[0].name is not None:
            return None
        shape = tuple(specs[0].shape)
        if len(shape) != 2 or shape[0] != -1 or shape[1] < 1:
            return None
        kind = specs[0].type.kind  # numpy dtype kind
        return InputRules(tensor_width=shape[1], tensor_kind=_numpy_kind(kind))
    if not schema.has_input_names():
        return None
    columns = []
    for spec in schema.inputs:
        type_name = getattr(spec.type, "name", None)
        if type_name in _FLOAT_TYPES:
            kind, bits = "float", _FLOAT_TYPES[type_name]
        elif type_name in _INT_TYPES:
            kind, bits = "int", _INT_TYPES[type_name]
        elif type_name == "boolean":
            kind, bits = "bool", 0
        elif type_name == "string":
            kind, bits = "str", 0
        else:  # binary, datetime, arrays, objects, maps, Any: MLflow's own conversion rules
            kind, bits = "any", 0
        columns.append(Column(str(spec.name), kind, bits, bool(spec.required)))
    return InputRules(columns=tuple(columns))


def _numpy_kind(kind: str) -> str:
    return {"f": "float", "i": "int", "u": "int", "b": "bool"}.get(kind, "any")


def parse_json(body: bytes) -> dict[str, Any]:
    """The request's JSON object, with exactly one of MLflow's input fields (400 otherwise)."""
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as error:
        raise bad_request(f"the body is not UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise bad_request(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise bad_request("the body's JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise bad_request(
            f"the body must be a JSON object with exactly one of {', '.join(FORMATS)}; "
            f"got a {type(payload).__name__}"
        )
    found = [key for key in FORMATS if key in payload]
    if len(found) != 1:
        got = ", ".join(repr(key) for key in payload) or "none"
        raise bad_request(
            f"the body must hold exactly one of {', '.join(FORMATS)} (fields found: {got})"
        )
    return payload


def check_json(payload: dict[str, Any], rules: InputRules | None) -> list[list[Any]] | None:
    """Check the payload against `rules`; the rows in the signature's column order when the
    form allows it (every column present), else None (MLflow parses it on the pyfunc path)."""
    if rules is None:
        return None
    key = next(key for key in FORMATS if key in payload)
    data = payload[key]
    if rules.tensor_width is not None:
        return _tensor_rows(key, data, rules)
    if key == DF_SPLIT:
        return _split_rows(data, rules)
    if key == DF_RECORDS:
        return _records_rows(key, data, rules)
    if isinstance(data, dict):  # instances / inputs as {column: values}
        return _columnar_rows(key, data, rules)
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return _records_rows(key, data, rules)
    raise schema_mismatch(
        f"the model takes named columns ({_shown(rules.names)}); send {key} as a list of "
        f"{{column: value}} records or a {{column: [values]}} object, or use {DF_SPLIT} "
        "with 'columns'",
        field=key,
    )


def _split_rows(data: Any, rules: InputRules) -> list[list[Any]] | None:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise bad_request(f"{DF_SPLIT} must be an object with a 'data' list of rows", DF_SPLIT)
    unknown = set(data) - {"columns", "data", "index"}
    if unknown:
        raise bad_request(
            f"{DF_SPLIT} holds fields other than columns, data and index: "
            f"{_shown(sorted(map(str, unknown)))}",
            DF_SPLIT,
        )
    names = data.get("columns")
    if names is None:
        raise schema_mismatch(
            f"{DF_SPLIT} has no 'columns'; the model takes {_shown(rules.names)}", "columns"
        )
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise bad_request(f"{DF_SPLIT}.columns must be a list of column names", "columns")
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise bad_request(f"{DF_SPLIT}.columns names {_shown(twice)} more than once", "columns")
    rows: list[Any] = data["data"]
    width = len(names)
    for number, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise bad_request(
                f"{DF_SPLIT}.data row {number} has {size} values for {width} columns", "data"
            )
    order = _column_order(names, rules)
    checks = [(index, _checker(rules.columns[slot])) for slot, index in enumerate(order)]
    for index, check in checks:
        if index is not None:
            for row in rows:
                check(row[index])
    if None in order:
        return None  # an optional column is absent: MLflow fills it in
    if order == list(range(width)):
        return rows
    return [[row[index] for index in order] for row in rows]


def _records_rows(key: str, data: Any, rules: InputRules) -> list[list[Any]] | None:
    if not isinstance(data, list) or not all(isinstance(record, dict) for record in data):
        raise bad_request(f"{key} must be a list of {{column: value}} records", key)
    names = rules.names
    expected = set(names)
    complete = True
    for record in data:
        if record.keys() != expected:
            _column_order(list(record), rules)  # names the missing or extra column
            complete = False
    checks = [(column.name, _checker(column)) for column in rules.columns]
    for record in data:
        for name, check in checks:
            if name in record:
                check(record[name])
    if not complete:
        return None
    return [[record[name] for name in names] for record in data]


def _columnar_rows(key: str, data: dict[str, Any], rules: InputRules) -> list[list[Any]] | None:
    order = _column_order(list(data), rules)
    lists = [isinstance(value, list) for value in data.values()]
    if any(lists) and not all(lists):
        raise bad_request(f"{key} mixes lists and single values; send one list per column", key)
    columns: list[list[Any]] = [
        value if isinstance(value, list) else [value] for value in data.values()
    ]
    lengths = {len(values) for values in columns}
    if len(lengths) > 1:
        raise bad_request(f"{key} has columns of different lengths ({sorted(lengths)})", key)
    by_name = dict(zip(data, columns, strict=True))
    for column in rules.columns:
        if column.name in by_name:
            check = _checker(column)
            for value in by_name[column.name]:
                check(value)
    if None in order:
        return None
    return [list(row) for row in zip(*(by_name[name] for name in rules.names), strict=True)]


def _tensor_rows(key: str, data: Any, rules: InputRules) -> list[list[Any]] | None:
    if key not in (INSTANCES, INPUTS) or not isinstance(data, list):
        return None  # a data frame for a tensor model: MLflow reshapes it
    width = rules.tensor_width
    check = _checker(Column("value", rules.tensor_kind, 64, True))
    for number, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            size = len(row) if isinstance(row, list) else "a single value"
            raise schema_mismatch(
                f"{key} row {number} has {size} values; the model takes rows of {width}", key
            )
        for value in row:
            check(value)
    return data


def _column_order(names: Sequence[str], rules: InputRules) -> list[int | None]:
    """For each signature column, its position in `names` (None for an absent optional one);
    422 naming the first missing required column, or the first column the model does not take."""
    position = {name: index for index, name in enumerate(names)}
    known = set(rules.names)
    extra = [name for name in names if name not in known]
    missing = [c.name for c in rules.columns if c.required and c.name not in position]
    if missing:
        raise schema_mismatch(
            f"missing column {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f"; the model takes {_shown(rules.names)}",
            field=missing[0],
        )
    if extra:
        raise schema_mismatch(
            f"unknown column {extra[0]!r}: the model's signature has no such input "
            f"(it takes {_shown(rules.names)})",
            field=extra[0],
        )
    return [position.get(name) for name in rules.names]


def _checker(column: Column) -> Callable[[Any], None]:
    """A function that raises a 422 naming `column` for a value of the wrong JSON type."""
    name = column.name
    nullable = not column.required

    def wrong(value: Any, wanted: str) -> RequestRejected:
        shown = json.dumps(value)[:40] if _json_safe(value) else type(value).__name__
        return schema_mismatch(f"column {name!r} takes {wanted}; got {shown}", field=name)

    if column.kind == "float":

        def check_float(value: Any) -> None:
            # null is NaN, as MLflow reads it: the model decides (trees take NaN)
            if type(value) is not float and type(value) is not int and value is not None:
                raise wrong(value, "numbers")

        return check_float
    if column.kind == "int":
        low, high = INT_RANGE[column.bits]

        def check_int(value: Any) -> None:
            if type(value) is int and low <= value <= high:
                return
            if value is None and nullable:
                return
            raise wrong(value, f"whole numbers that fit in {column.bits} bits")

        return check_int
    if column.kind in ("bool", "str"):
        wanted_type: type = bool if column.kind == "bool" else str

        def check_plain(value: Any) -> None:
            if type(value) is not wanted_type and not (value is None and nullable):
                raise wrong(value, "true or false" if wanted_type is bool else "strings")

        return check_plain
    return _anything


def _anything(value: Any) -> None:
    return None


def _json_safe(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def _shown(names: Sequence[str], limit: int = 8) -> str:
    head = ", ".join(repr(name) for name in names[:limit])
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_csv(body: bytes, rules: InputRules | None) -> str:
    """The CSV text (400 when it is not UTF-8 CSV with a header), checked against `rules`: the
    header against the columns (422), and each number column's cells (422 naming the column).

    MLflow's pandas reader parses it afterwards; an empty cell is NaN there, as here.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(f"the CSV body is not UTF-8: {error}") from None
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as error:
        raise bad_request(f"the body is not valid CSV: {error}") from None
    rows = [row for row in rows if row]
    if not rows:
        raise bad_request("the CSV body is empty; send a header line and one line per row")
    header, cells = rows[0], rows[1:]
    if not cells:
        raise bad_request("the CSV body has a header but no rows")
    for number, row in enumerate(cells, start=2):
        if len(row) != len(header):
            raise bad_request(
                f"CSV line {number} has {len(row)} cells for {len(header)} header columns"
            )
    if rules is None or rules.tensor_width is not None:
        return text
    order = _column_order(header, rules)
    for slot, index in enumerate(order):
        column = rules.columns[slot]
        if index is None or column.kind not in ("float", "int"):
            continue
        parse: Callable[[str], object] = float if column.kind == "float" else int
        for row in cells:
            cell = row[index]
            if column.kind == "float" and not cell.strip():
                continue
            try:
                parse(cell)
            except ValueError:
                kind = "numbers" if column.kind == "float" else "whole numbers"
                raise schema_mismatch(
                    f"column {column.name!r} takes {kind}; got {cell[:40]!r}", field=column.name
                ) from None
    return text
