"""Turn argparse `add_argument` calls and click decorators into the parameters a script accepts.

Everything is read from the AST, so the "Run with…" form can offer a script's options without
importing it (importing could start training, or need packages the editor's Python lacks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlworkbench.analysis.script_source import SourceLines


@dataclass(frozen=True)
class ScriptParameter:
    """One command-line parameter of a script, as argparse or click would define it."""

    name: str  # the name the script sees: "n_estimators" for "--n-estimators"
    flags: list[str]  # ["--n-estimators", "-n"]; [] for positionals (pass the value bare)
    type: str | None  # "int" | "float" | "str" | "bool" | "choice" | None (unknown)
    default: str | None  # source text of the default, None when there is none
    help: str | None
    required: bool
    choices: list[str] | None
    source: str  # "argparse" | "click"
    line: int  # 0-based line of the add_argument call or the decorator


# Callables given as `type=` that map onto a form field's kind. pathlib.Path and click's path
# and file types take a string on the command line, so the form treats them as text.
_TYPE_NAMES = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "Path": "str",
    "INT": "int",
    "FLOAT": "float",
    "STRING": "str",
    "BOOL": "bool",
    "UUID": "str",
    "IntRange": "int",
    "FloatRange": "float",
    "File": "str",
    "DateTime": "str",
}
# Attribute calls that return an object whose `add_argument` adds to the same command line.
_PARSER_DERIVING_METHODS = frozenset(
    {"add_argument_group", "add_mutually_exclusive_group", "add_subparsers", "add_parser"}
)
_HELP_FLAGS = frozenset({"-h", "--help"})


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, None for anything else (calls, subscripts…)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _literal_bool(node: ast.AST | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _choices(node: ast.AST | None) -> list[str] | None:
    """Literal choices as strings (what the user types), or None when they are computed."""
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return None
    values: list[str] = []
    for element in node.elts:
        if not isinstance(element, ast.Constant):
            return None
        values.append(element.value if isinstance(element.value, str) else repr(element.value))
    return values


def _type_name(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Call):  # click.IntRange(0, 10), click.Path(exists=True)
        node = node.func
    name = dotted_name(node)
    return _TYPE_NAMES.get(name.rsplit(".", 1)[-1]) if name else None


def _keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}


def _string_args(call: ast.Call) -> list[str] | None:
    """The positional string arguments, or None if any is computed (we cannot know the flag)."""
    values = [_literal_str(arg) for arg in call.args]
    if not values or any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


class ArgparseCollector:
    """Collects argparse facts during the single AST pass; resolves them once it is over.

    Scopes are deliberately ignored: a parser built in `main()` and filled in by a helper that
    takes it as an argument is still one command line, and names rarely clash in practice.
    """

    def __init__(self) -> None:
        self._parser_names: set[str] = set()
        self._derived: list[tuple[str, ast.expr]] = []  # name <- parser.add_argument_group()
        self._calls: list[tuple[ast.expr, ast.Call]] = []  # (receiver, add_argument call)

    @property
    def has_parser(self) -> bool:
        return bool(self._parser_names)

    def on_assign(self, targets: Iterable[ast.expr], value: ast.expr) -> None:
        if not isinstance(value, ast.Call):
            return
        names = [n for n in (dotted_name(t) for t in targets) if n is not None]
        if not names:
            return
        if _is_parser_constructor(value):
            self._parser_names.update(names)
        elif isinstance(value.func, ast.Attribute) and value.func.attr in _PARSER_DERIVING_METHODS:
            self._derived.extend((name, value) for name in names)

    def on_annotated_argument(self, name: str, annotation: ast.expr) -> None:
        """`def add_args(parser: argparse.ArgumentParser)` makes `parser` a parser name."""
        annotation_name = dotted_name(annotation)
        if annotation_name and annotation_name.rsplit(".", 1)[-1] == "ArgumentParser":
            self._parser_names.add(name)

    def on_call(self, call: ast.Call) -> None:
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument":
            self._calls.append((call.func.value, call))

    def parameters(self, lines: SourceLines) -> list[ScriptParameter]:
        self._resolve_derived()
        found = []
        self._calls.sort(key=lambda entry: (entry[1].lineno, entry[1].col_offset))
        for receiver, call in self._calls:
            if self._is_parser(receiver):
                parameter = _argparse_parameter(call, lines)
                if parameter is not None:
                    found.append(parameter)
        return found

    def _resolve_derived(self) -> None:
        # Groups of groups resolve in any order: repeat until nothing new is learnt.
        pending = list(self._derived)
        changed = True
        while pending and changed:
            changed = False
            for entry in list(pending):
                if self._is_parser(entry[1]):
                    self._parser_names.add(entry[0])
                    pending.remove(entry)
                    changed = True

    def _is_parser(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            if _is_parser_constructor(node):
                return True
            func = node.func
            return (
                isinstance(func, ast.Attribute)
                and func.attr in _PARSER_DERIVING_METHODS
                and self._is_parser(func.value)
            )
        name = dotted_name(node)
        return name is not None and name in self._parser_names


def _is_parser_constructor(call: ast.Call) -> bool:
    name = dotted_name(call.func)
    return name is not None and name.rsplit(".", 1)[-1] == "ArgumentParser"


def _argparse_parameter(call: ast.Call, lines: SourceLines) -> ScriptParameter | None:
    flags = _string_args(call)
    if flags is None:
        return None
    keywords = _keywords(call)
    action_node = keywords.get("action")
    action = _literal_str(action_node)
    if action is None and action_node is not None:
        action_name = dotted_name(action_node)
        action = action_name.rsplit(".", 1)[-1] if action_name else None
    if action in ("help", "version") or set(flags) <= _HELP_FLAGS:
        return None

    positional = not flags[0].startswith("-")
    dest = _literal_str(keywords.get("dest"))
    if dest is None:
        if positional:
            dest = flags[0]
        else:
            # argparse's rule: the first long option, else the first short one.
            long_flags = [f for f in flags if f.startswith("--")]
            dest = (long_flags or flags)[0].lstrip("-").replace("-", "_")

    choices = _choices(keywords.get("choices"))
    default_node = keywords.get("default")
    default = lines.segment(default_node) if default_node is not None else None
    type_: str | None
    if action in ("store_true", "store_false", "BooleanOptionalAction"):
        type_ = "bool"
        if default is None and action != "BooleanOptionalAction":
            default = "False" if action == "store_true" else "True"
    elif action == "count":
        type_ = "int"
    else:
        type_ = _type_name(keywords.get("type"))
        if type_ is None and choices is not None:
            type_ = "choice"

    required = _literal_bool(keywords.get("required"))
    if required is None:
        nargs = _literal_str(keywords.get("nargs"))
        required = positional and nargs not in ("?", "*")

    help_text = _literal_str(keywords.get("help"))
    return ScriptParameter(
        name=dest,
        flags=[] if positional else flags,
        type=type_,
        default=default,
        help=None if help_text == "==SUPPRESS==" else help_text,
        required=required,
        choices=choices,
        source="argparse",
        line=call.lineno - 1,
    )


def click_parameters(
    decorators: Iterable[ast.expr], click_names: Mapping[str, str], lines: SourceLines
) -> list[ScriptParameter]:
    """Parameters declared by `@click.option` / `@click.argument` decorators of one function."""
    found = []
    for decorator in decorators:
        if not isinstance(decorator, ast.Call):
            continue
        kind = resolve_click_name(decorator.func, click_names)
        if kind in ("click.option", "click.argument"):
            parameter = _click_parameter(decorator, kind == "click.option", click_names, lines)
            if parameter is not None:
                found.append(parameter)
    return found


def resolve_click_name(node: ast.AST, click_names: Mapping[str, str]) -> str | None:
    """`click.option` for `click.option`, `c.option` (import click as c) or a bare `option`."""
    name = dotted_name(node)
    if name is None:
        return None
    root, _, rest = name.partition(".")
    canonical = click_names.get(root)
    if canonical is None:
        return None
    return f"{canonical}.{rest}" if rest else canonical


def _click_parameter(
    call: ast.Call, is_option: bool, click_names: Mapping[str, str], lines: SourceLines
) -> ScriptParameter | None:
    declarations = _string_args(call)
    if declarations is None:
        return None
    keywords = _keywords(call)
    flags: list[str] = []
    name: str | None = None
    secondary = False
    for declaration in declarations:
        if is_option and declaration.isidentifier():
            name = declaration  # an explicit parameter name: @click.option("-n", "count")
            continue
        if "/" in declaration:  # "--shout/--no-shout" is an on/off flag pair
            secondary = True
            flags.extend(part.strip() for part in declaration.split("/") if part.strip())
        else:
            flags.append(declaration)
    if name is None:
        if not is_option:
            name = declarations[0].replace("-", "_").lower()
        elif flags:
            # click's rule: the first of the options with the longest prefix ("--" before "-").
            first = sorted(flags, key=lambda f: -(len(f) - len(f.lstrip("-"))))[0]
            name = first.lstrip("-").replace("-", "_").lower()
        else:
            return None

    choices = None
    type_node = keywords.get("type")
    type_ = _type_name(type_node)
    if (
        isinstance(type_node, ast.Call)
        and resolve_click_name(type_node.func, click_names) == "click.Choice"
    ):
        type_ = "choice"
        choices = _choices(type_node.args[0]) if type_node.args else None
    default_node = keywords.get("default")
    default = lines.segment(default_node) if default_node is not None else None
    if _literal_bool(keywords.get("is_flag")) or secondary:
        type_ = "bool"
        default = default or "False"
    elif _literal_bool(keywords.get("count")):
        type_ = "int"
    elif type_ is None and isinstance(default_node, ast.Constant):
        # click infers the parameter type from a literal default.
        value = default_node.value
        type_ = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value))

    required = _literal_bool(keywords.get("required"))
    if required is None:
        # An argument is required unless it has a default or takes any number (nargs=-1).
        nargs = keywords.get("nargs")
        variadic = nargs is not None and ast.unparse(nargs) == "-1"
        required = not is_option and default_node is None and not variadic

    return ScriptParameter(
        name=name,
        flags=flags if is_option else [],
        type=type_,
        default=default,
        help=_literal_str(keywords.get("help")),
        required=required,
        choices=choices,
        source="click",
        line=call.lineno - 1,
    )
