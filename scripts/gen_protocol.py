"""Write extension/src/protocol.ts from mlworkbench_server.protocol (the single definition).

Run with `--check` to fail instead of writing when the TypeScript file is stale.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "python_backend"))

from mlworkbench.analysis import script_analysis  # noqa: E402
from mlworkbench.explorer import (  # noqa: E402
    run_cache,
    run_compare,
    run_details,
    run_listing,
    run_models,
)
from mlworkbench.registry import model_registry  # noqa: E402
from mlworkbench.setup import doctor  # noqa: E402
from mlworkbench_server import protocol  # noqa: E402

# Payloads that cross the wire, as TypeScript interfaces generated from the dataclasses.
PAYLOADS: list[type] = [
    script_analysis.ScriptParameter,
    script_analysis.SyntaxProblem,
    script_analysis.ScriptAnalysis,
    doctor.PackageStatus,
    doctor.DoctorReport,
    run_listing.RunSummary,
    run_details.ArtifactEntry,
    run_models.RunModel,
    run_details.RunDetails,
    run_cache.ExperimentInfo,
    run_cache.RunPage,
    run_compare.CompareRun,
    run_compare.MetricSeries,
    run_compare.CompareData,
    model_registry.ModelVersionInfo,
    model_registry.RegisteredModelInfo,
]

TARGET = ROOT / "extension" / "src" / "protocol.ts"


def ts_type(hint: object) -> str:
    """Map a dataclass field's type hint onto the TypeScript type of its JSON form."""
    if hint in (str,):
        return "string"
    if hint in (int, float):
        return "number"
    if hint is bool:
        return "boolean"
    if hint is type(None):
        return "null"
    if dataclasses.is_dataclass(hint) or typing.is_typeddict(hint):
        return hint.__name__  # type: ignore[union-attr]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        # int and float are both `number`: name it once.
        return " | ".join(dict.fromkeys(ts_type(a) for a in args))
    if origin in (list, tuple, typing.Sequence):
        inner = ts_type(args[0])
        return f"({inner})[]" if "|" in inner else f"{inner}[]"
    if origin is dict:
        return f"Record<{ts_type(args[0])}, {ts_type(args[1])}>"
    if hint is object or hint is typing.Any:
        return "unknown"
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    raise TypeError(f"no TypeScript mapping for {hint!r}")


def render_payload(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = [f"export interface {cls.__name__} {{"]
    for field in dataclasses.fields(cls):
        lines.append(f"  {field.name}: {ts_type(hints[field.name])};")
    lines.append("}")
    lines.append("")
    return lines


def render_envelope(cls: type) -> list[str]:
    """A TypedDict as an interface; keys outside `__required_keys__` become optional."""
    hints = typing.get_type_hints(cls)
    if not hints:  # `{}` and nothing else (an empty interface would accept any object)
        return [f"export type {cls.__name__} = Record<string, never>;", ""]
    required = cls.__required_keys__  # type: ignore[attr-defined]
    lines = [f"export interface {cls.__name__} {{"]
    for name, hint in hints.items():
        mark = "" if name in required else "?"
        lines.append(f"  {name}{mark}: {ts_type(hint)};")
    lines.append("}")
    lines.append("")
    return lines


def render_request_types() -> list[str]:
    """`RequestTypes`: each request's method -> its params and result, for `request()`."""
    missing = set(protocol.REQUESTS) - set(protocol.REQUEST_TYPES)
    unknown = set(protocol.REQUEST_TYPES) - set(protocol.REQUESTS)
    if missing or unknown:
        raise SystemExit(
            f"REQUEST_TYPES and REQUESTS differ: no row for {sorted(missing)}, "
            f"rows for no request {sorted(unknown)}"
        )
    emitted = {cls.__name__ for cls in [*PAYLOADS, *protocol.ENVELOPES]}
    lines = [
        "/** Each request's params and result: `request()` (common/requests.ts) checks both. */",
        "export interface RequestTypes {",
    ]
    for name, method in protocol.REQUESTS.items():
        row = protocol.REQUEST_TYPES[name]
        for part in row:
            if part.__name__ not in emitted:
                raise SystemExit(f"{name}: {part.__name__} is in neither PAYLOADS nor ENVELOPES")
        params, result = ts_type(row.params), ts_type(row.result)
        lines.append(f"  {json.dumps(method)}: {{ params: {params}; result: {result} }};")
    lines.append("}")
    lines.append("")
    return lines


def render() -> str:
    """Render the TypeScript module: one `as const` object per group, in definition order."""
    groups = {
        "Commands": protocol.COMMANDS,
        "Requests": protocol.REQUESTS,
        "Notifications": protocol.NOTIFICATIONS,
        "ErrorCodes": protocol.ERROR_CODES,
        "Views": protocol.VIEWS,
        "ContextKeys": protocol.CONTEXT_KEYS,
        "StatusItems": protocol.STATUS_ITEMS,
        "Webviews": protocol.WEBVIEWS,
        "ExitCodes": protocol.EXIT_CODES,
    }
    lines = [
        "// Generated by scripts/gen_protocol.py from server/mlworkbench_server/protocol.py.",
        "// Do not edit: change the Python definition and run `make protocol`.",
        "",
    ]
    for name, values in groups.items():
        lines.append(f"export const {name} = {{")
        for key, value in values.items():
            lines.append(f"  {key}: {json.dumps(value)},")
        lines.append("} as const;")
        lines.append("")
    major, minor = protocol.MIN_PYTHON
    lines.append(f"export const MIN_PYTHON = [{major}, {minor}] as const;")
    lines.append("")
    lines.append("export const FRAMEWORK_LABELS: Record<string, string> = {")
    for key, value in script_analysis.FRAMEWORK_LABELS.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append("};")
    lines.append("")
    for cls in PAYLOADS:
        lines.extend(render_payload(cls))
    for cls in protocol.ENVELOPES:
        lines.extend(render_envelope(cls))
    lines.extend(render_request_types())
    return "\n".join(lines)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run `make protocol`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
