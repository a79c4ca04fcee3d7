"""Static analysis of a training script: frameworks, parameters, entry point and MLflow use.

The editor runs this on every open or edit of a Python file to place code lenses, so it only
parses (`ast`) and never imports or runs the script, and it looks at each node once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeAlias

from mlworkbench.analysis.script_parameters import (
    ArgparseCollector,
    ScriptParameter,
    click_parameters,
    dotted_name,
    resolve_click_name,
)
from mlworkbench.analysis.script_source import SourceLines, read_script

__all__ = [
    "FRAMEWORK_LABELS",
    "ScriptAnalysis",
    "ScriptParameter",
    "SyntaxProblem",
    "analyze_file",
    "analyze_source",
]

# Stable ids (the order results are reported in) and the names people know them by.
FRAMEWORK_LABELS: dict[str, str] = {
    "sklearn": "scikit-learn",
    "pytorch": "PyTorch",
    "lightning": "Lightning",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "rllib": "Ray RLlib",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
}
_FRAMEWORK_ORDER = {framework: index for index, framework in enumerate(FRAMEWORK_LABELS)}
# Top-level module -> framework; tensorflow's keras and ray's rllib are matched on the full name.
_MODULE_FRAMEWORKS = {
    "sklearn": "sklearn",
    "torch": "pytorch",
    "torchvision": "pytorch",
    "torchaudio": "pytorch",
    "torchtext": "pytorch",
    "pytorch_lightning": "lightning",
    "lightning": "lightning",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "tf_keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
}
# Calls that mean "this trains something" when a script has a command line but no known framework.
_TRAINING_CALLS = frozenset({"fit", "train", "backward", "fit_generator"})
# Conventional names of the function that does the work, when nothing else points to one.
_ENTRY_NAMES = ("main", "train")


@dataclass(frozen=True)
class SyntaxProblem:
    """Where the script stops being Python (0-based, like LSP positions)."""

    message: str
    line: int
    column: int


@dataclass(frozen=True)
class ScriptAnalysis:
    """What the editor and the run launcher need to know about a script, as plain data."""

    frameworks: list[str]
    parameters: list[ScriptParameter]
    main_guard_line: int | None
    entry_function: str | None
    entry_line: int | None
    uses_mlflow: bool
    mlflow_calls: list[str]
    is_training_script: bool
    syntax_error: SyntaxProblem | None
    line_count: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def lens_line(self) -> int:
        """The line code lenses sit on: the `__main__` guard, else the entry function, else 0."""
        if self.main_guard_line is not None:
            return self.main_guard_line
        if self.entry_line is not None:
            return self.entry_line
        return 0


def analyze_file(path: Path) -> ScriptAnalysis:
    """Analyse the script at `path`.

    Raises ScriptNotFoundError, ScriptNotReadableError or ScriptNotDecodableError; a syntax error
    in the script is not an exception but `syntax_error` in the result, since editors show it.
    """
    return analyze_source(read_script(path))


def analyze_source(source: str) -> ScriptAnalysis:
    """Analyse Python source text; never raises for bad code."""
    lines = SourceLines(source)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return _unparsable(exc.msg, (exc.lineno or 1) - 1, (exc.offset or 1) - 1, lines)
    except (ValueError, RecursionError, MemoryError) as exc:
        # Null bytes (ValueError before 3.12) or nesting too deep for the parser.
        return _unparsable(str(exc) or type(exc).__name__, 0, 0, lines)
    return _Analyzer(lines).run(tree)


def _unparsable(message: str, line: int, column: int, lines: SourceLines) -> ScriptAnalysis:
    return ScriptAnalysis(
        frameworks=[],
        parameters=[],
        main_guard_line=None,
        entry_function=None,
        entry_line=None,
        uses_mlflow=False,
        mlflow_calls=[],
        is_training_script=False,
        syntax_error=SyntaxProblem(message, max(line, 0), max(column, 0)),
        line_count=len(lines.lines),
    )


_FunctionNode: TypeAlias = "ast.FunctionDef | ast.AsyncFunctionDef"
# Nodes that can contain nothing the analysis looks for: names, constants, import aliases
# (read from their Import node) and the operator and load/store singletons.
_LEAVES = frozenset(
    {ast.Name, ast.Constant, ast.alias}
    | {
        cls
        for cls in vars(ast).values()
        if isinstance(cls, type)
        and issubclass(cls, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop))
    }
)


class _Analyzer:
    """One pass over the tree gathers facts; names are resolved afterwards, so the order in
    which nodes are visited never matters (an import inside a function may come after its use).
    """

    def __init__(self, lines: SourceLines) -> None:
        self.lines = lines
        self.frameworks: set[str] = set()
        self.mlflow_names: dict[str, str] = {}  # local name -> what it is in mlflow
        self.click_names: dict[str, str] = {}  # local name -> what it is in click
        self.calls_by_root: dict[str, set[str]] = {}  # "mlflow" -> {"mlflow.log_metric"}
        self.trains = False
        self.decorated: list[_FunctionNode] = []
        self.argparse = ArgparseCollector()

    def run(self, tree: ast.Module) -> ScriptAnalysis:
        handlers: dict[type[ast.AST], Callable[[Any], None]] = {
            ast.Call: self._on_call,
            ast.Assign: self._on_assign,
            ast.AnnAssign: self._on_assign,
            ast.Import: self._on_import,
            ast.ImportFrom: self._on_import,
            ast.FunctionDef: self._on_function,
            ast.AsyncFunctionDef: self._on_function,
        }
        # Like ast.walk, but it never enters the leaves listed in _LEAVES, about a third of all
        # nodes, which halves the walk; the visiting order does not matter (see the class doc).
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            handler = handlers.get(type(node))
            if handler is not None:
                handler(node)
            for field in node._fields:
                value = getattr(node, field, None)
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                            stack.append(item)
                elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
                    stack.append(value)
        return self._result(tree)

    def _on_assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        if isinstance(node, ast.Assign):
            self.argparse.on_assign(node.targets, node.value)
        elif node.value is not None:
            self.argparse.on_assign([node.target], node.value)

    def _on_call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in _TRAINING_CALLS:
                self.trains = True
            self.argparse.on_call(node)
        elif isinstance(func, ast.Name) and func.id in _TRAINING_CALLS:
            self.trains = True
        name = dotted_name(func)
        if name is not None:
            self.calls_by_root.setdefault(name.partition(".")[0], set()).add(name)

    def _on_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                return  # relative imports are the script's own modules
            self._note_module(node.module)
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                self._note_module(full)
                self._bind(alias.asname or alias.name, full)
        else:
            for alias in node.names:
                self._note_module(alias.name)
                if alias.asname:
                    self._bind(alias.asname, alias.name)
                else:  # `import mlflow.sklearn` binds `mlflow`
                    root = alias.name.partition(".")[0]
                    self._bind(root, root)

    def _note_module(self, module: str) -> None:
        top = module.partition(".")[0]
        framework = _MODULE_FRAMEWORKS.get(top)
        if framework is not None:
            self.frameworks.add(framework)
        if module == "tensorflow.keras" or module.startswith("tensorflow.keras."):
            self.frameworks.add("keras")
        elif module == "ray.rllib" or module.startswith("ray.rllib."):
            self.frameworks.add("rllib")

    def _bind(self, local: str, canonical: str) -> None:
        root = canonical.partition(".")[0]
        if root == "mlflow":
            self.mlflow_names[local] = canonical
        elif root == "click":
            self.click_names[local] = canonical

    def _on_function(self, node: _FunctionNode) -> None:
        if node.decorator_list:
            self.decorated.append(node)
        arguments = node.args
        for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
            if arg.annotation is not None:
                self.argparse.on_annotated_argument(arg.arg, arg.annotation)

    def _mlflow_calls(self) -> list[str]:
        calls = set()
        for local, canonical in self.mlflow_names.items():
            for name in self.calls_by_root.get(local, ()):
                calls.add(canonical + name[len(local) :])
        return sorted(calls)

    def _click_commands(self) -> tuple[list[_FunctionNode], list[ScriptParameter]]:
        commands: list[_FunctionNode] = []
        parameters: list[ScriptParameter] = []
        if not self.click_names:
            return commands, parameters
        for function in self.decorated:
            for decorator in function.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                canonical = resolve_click_name(target, self.click_names)
                name = dotted_name(target) or ""
                # `@click.command()`, or `@cli.command()` on a click group named cli.
                if canonical in ("click.command", "click.group") or (
                    canonical is None and name.endswith((".command", ".group"))
                ):
                    commands.append(function)
                    break
            parameters.extend(
                click_parameters(function.decorator_list, self.click_names, self.lines)
            )
        commands.sort(key=_first_line)
        return commands, parameters

    def _result(self, tree: ast.Module) -> ScriptAnalysis:
        commands, click_params = self._click_commands()
        parameters = self.argparse.parameters(self.lines) + click_params
        parameters.sort(key=lambda p: p.line)
        top_level = {
            node.name: node
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        guard = _main_guard(tree)
        entry = _entry_function(guard, commands, top_level)
        has_command_line = self.argparse.has_parser or bool(commands) or bool(parameters)
        frameworks = sorted(self.frameworks, key=_FRAMEWORK_ORDER.__getitem__)
        return ScriptAnalysis(
            frameworks=frameworks,
            parameters=parameters,
            main_guard_line=guard.lineno - 1 if guard is not None else None,
            entry_function=entry.name if entry is not None else None,
            entry_line=_first_line(entry) if entry is not None else None,
            uses_mlflow=bool(self.mlflow_names),
            mlflow_calls=self._mlflow_calls(),
            is_training_script=bool(frameworks) or (has_command_line and self.trains),
            syntax_error=None,
            line_count=len(self.lines.lines),
        )


def _first_line(function: _FunctionNode) -> int:
    """0-based line where a definition starts, counting its decorators."""
    return min([function.lineno, *(d.lineno for d in function.decorator_list)]) - 1


def _is_main_name_test(test: ast.expr) -> bool:
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and len(test.comparators) == 1
    ):
        return False
    sides = (test.left, test.comparators[0])
    has_name = any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
    has_main = any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides)
    return has_name and has_main


def _main_guard(tree: ast.Module) -> ast.If | None:
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_name_test(node.test):
            return node
    return None


def _entry_function(
    guard: ast.If | None,
    commands: list[_FunctionNode],
    top_level: dict[str, _FunctionNode],
) -> _FunctionNode | None:
    """The function that does the work: called from the guard, a click command, or by name."""
    if guard is not None:
        called = [
            node
            for statement in guard.body
            for node in ast.walk(statement)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in top_level
        ]
        if called:
            first = min(called, key=lambda call: (call.lineno, call.col_offset))
            assert isinstance(first.func, ast.Name)
            return top_level[first.func.id]
    if commands:
        return commands[0]
    for name in _ENTRY_NAMES:
        if name in top_level:
            return top_level[name]
    return None
