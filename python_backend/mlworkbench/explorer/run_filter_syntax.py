"""The grammar of the run filter language: tokens, comparisons, the parser, and DNF.

Split from `run_filter` (which turns parsed queries into MLflow searches and merges them) so
the language and its use can each be read on their own; the grammar is in run_filter's
docstring.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Literal

from mlworkbench.errors import InvalidFilterError

MAX_DISJUNCTS = 32

Kind = Literal["metrics", "params", "tags", "attributes"]

PREFIXES: dict[str, Kind] = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
_STRING_ATTRIBUTES = frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"})
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created"})
# MLflow 3.17 refuses `attributes.experiment_id` as an order key (an uncaught error in its store).
ORDER_ATTRIBUTES = _STRING_ATTRIBUTES | _NUMERIC_ATTRIBUTES
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_KEYWORDS = frozenset({"AND", "OR", "IN", "NOT", "LIKE", "ILIKE", "ASC", "DESC"})

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_OPERATOR = re.compile(r"==|!=|<>|<=|>=|=|<|>")


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "key", "string", "number", "op", "punct", "eof"]
    text: str  # the word, key prefix, string value, number text, operator or punctuation
    position: int
    name: str = ""  # for "key": the part after the prefix's dot
    source: str = ""  # the token as written, for messages


@dataclass(frozen=True)
class Comparison:
    """One MLflow comparison: `kind.name op value` (op `IN`/`NOT IN` only for run ids)."""

    kind: Kind
    name: str
    op: str
    value: str | tuple[str, ...]
    numeric: bool
    position: int

    def to_mlflow(self, query: str) -> str:
        key = f"{self.kind}.{self.name}" if self.kind == "attributes" else self._quoted_key(query)
        if isinstance(self.value, tuple):
            values = ", ".join(self._literal(v, query) for v in self.value)
            return f"{key} {self.op} ({values})"
        value = self.value if self.numeric else self._literal(self.value, query)
        return f"{key} {self.op} {value}"

    def _quoted_key(self, query: str) -> str:
        if "`" in self.name:
            raise InvalidFilterError(
                f"the name {self.name!r} contains a backtick, which MLflow cannot match",
                query,
                self.position,
            )
        return f"{self.kind}.`{self.name}`"

    def _literal(self, value: str, query: str) -> str:
        # MLflow strips the outer quotes and takes the rest verbatim (no escapes).
        if "'" not in value:
            return f"'{value}'"
        if '"' not in value:
            return f'"{value}"'
        raise InvalidFilterError(
            "a value cannot contain both ' and \" (MLflow has no way to quote it)",
            query,
            self.position,
        )


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


Node = Comparison | Or | And


def describe_token(token: Token) -> str:
    return "the end of the filter" if token.kind == "eof" else repr(token.source)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if char in "'\"":
            i, value = _read_string(query, i)
            tokens.append(Token("string", value, start, source=query[start:i]))
            continue
        if char in "(),":
            tokens.append(Token("punct", char, start, source=char))
            i += 1
            continue
        if char == "`":
            raise InvalidFilterError(
                "expected a prefix such as metrics. before a `quoted name`", query, start
            )
        if number := _NUMBER.match(query, i):
            i = number.end()
            tokens.append(Token("number", number.group(), start, source=number.group()))
            continue
        if operator := _OPERATOR.match(query, i):
            i = operator.end()
            text = {"==": "=", "<>": "!="}.get(operator.group(), operator.group())
            tokens.append(Token("op", text, start, source=operator.group()))
            continue
        if word := _WORD.match(query, i):
            i = word.end()
            text = word.group()
            if "." not in text:
                tokens.append(Token("word", text.upper(), start, source=text))
                continue
            prefix, _, name = text.partition(".")
            if not name and query.startswith("`", i):
                end = query.find("`", i + 1)
                if end < 0:
                    raise InvalidFilterError("unterminated `quoted name`", query, i)
                name = query[i + 1 : end]
                i = end + 1
            tokens.append(Token("key", prefix, start, name=name, source=query[start:i]))
            continue
        raise InvalidFilterError(f"unexpected character {char!r}", query, start)
    tokens.append(Token("eof", "", len(query)))
    return tokens


def _read_string(query: str, start: int) -> tuple[int, str]:
    quote = query[start]
    out: list[str] = []
    i = start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query) and query[i + 1] in (quote, "\\"):
            out.append(query[i + 1])
            i += 2
        elif char == quote:
            if query.startswith(quote, i + 1):  # a doubled quote stands for one
                out.append(quote)
                i += 2
            else:
                return i + 1, "".join(out)
        else:
            out.append(char)
            i += 1
    raise InvalidFilterError(f"unterminated string (missing closing {quote})", query, start)


class Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _error(self, expected: str, token: Token | None = None) -> InvalidFilterError:
        token = token or self.token
        return InvalidFilterError(
            f"expected {expected}, found {describe_token(token)}", self.query, token.position
        )

    def _is_word(self, word: str) -> bool:
        return self.token.kind == "word" and self.token.text == word

    def parse(self) -> Node | None:
        if self.token.kind == "eof":
            return None
        node = self._or()
        if self.tokens[self.index].kind != "eof":
            raise self._error("'and', 'or' or the end of the filter")
        return node

    def _or(self) -> Node:
        parts = [self._and()]
        while self._is_word("OR"):
            self._advance()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Node:
        parts = [self._atom()]
        while self._is_word("AND"):
            self._advance()
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _atom(self) -> Node:
        if self.token.kind == "punct" and self.token.text == "(":
            self._advance()
            node = self._or()
            if not (self.token.kind == "punct" and self.token.text == ")"):
                raise self._error("')' to close the '('")
            self._advance()
            return node
        if self.token.kind in ("string", "number"):
            return self._range()
        return self._comparison()

    def _key(self) -> tuple[Kind, str, Token]:
        token = self.token
        if token.kind != "key":
            raise self._error(
                "a key such as metrics.NAME, params.NAME, tags.NAME or attributes.NAME"
            )
        kind = PREFIXES.get(token.text.lower())
        if kind is None:
            raise InvalidFilterError(
                f"unknown key type {token.text!r} in {token.source!r}; expected metrics, "
                "params, tags or attributes",
                self.query,
                token.position,
            )
        if not token.name:
            raise InvalidFilterError(
                f"expected a name after {token.source!r}", self.query, token.position
            )
        if kind == "attributes" and token.name not in _STRING_ATTRIBUTES | _NUMERIC_ATTRIBUTES:
            known = ", ".join(sorted(_STRING_ATTRIBUTES | _NUMERIC_ATTRIBUTES))
            raise InvalidFilterError(
                f"unknown attribute {token.name!r}; expected one of {known}",
                self.query,
                token.position,
            )
        self._advance()
        return kind, token.name, token

    @staticmethod
    def _numeric(kind: Kind, name: str) -> bool:
        return kind == "metrics" or (kind == "attributes" and name in _NUMERIC_ATTRIBUTES)

    def _operator(self, key: Token) -> tuple[str, Token]:
        token = self.token
        if token.kind == "op":
            self._advance()
            return token.text, token
        if token.kind == "word" and token.text in ("LIKE", "ILIKE", "IN"):
            self._advance()
            return token.text, token
        if token.kind == "word" and token.text == "NOT":
            self._advance()
            if not self._is_word("IN"):
                raise self._error("'in' after 'not'")
            self._advance()
            return "NOT IN", token
        raise self._error(f"a comparison operator after {key.source!r}")

    def _check_op(self, kind: Kind, name: str, op: str, at: Token) -> None:
        allowed = _NUMERIC_OPS if self._numeric(kind, name) else _STRING_OPS | {"IN", "NOT IN"}
        if op not in allowed:
            ops = ", ".join(sorted(allowed))
            raise InvalidFilterError(
                f"the operator {op!r} does not apply to {kind}.{name}; expected one of {ops}",
                self.query,
                at.position,
            )

    def _value(self, kind: Kind, name: str) -> str:
        token = self.token
        self._check_value(token, kind, name)
        self._advance()
        return token.text

    def _check_value(self, token: Token, kind: Kind, name: str) -> None:
        if self._numeric(kind, name):
            if token.kind != "number":
                raise self._error(f"a number for {kind}.{name}", token)
            if kind == "attributes" and not re.fullmatch(r"[-+]?\d+", token.text):
                raise self._error(f"a whole number of milliseconds for attributes.{name}", token)
        elif token.kind != "string":
            raise self._error(f"a quoted string for {kind}.{name}", token)

    def _comparison(self) -> Node:
        kind, name, key = self._key()
        op, at = self._operator(key)
        self._check_op(kind, name, op, at)
        if op in ("IN", "NOT IN"):
            return self._membership(kind, name, op, key)
        return Comparison(
            kind, name, op, self._value(kind, name), self._numeric(kind, name), key.position
        )

    def _membership(self, kind: Kind, name: str, op: str, key: Token) -> Node:
        if not (self.token.kind == "punct" and self.token.text == "("):
            raise self._error(f"'(' after {op.lower()!r}")
        self._advance()
        values = [self._value(kind, name)]
        while self.token.kind == "punct" and self.token.text == ",":
            self._advance()
            values.append(self._value(kind, name))
        if not (self.token.kind == "punct" and self.token.text == ")"):
            raise self._error("',' or ')' in the list of values")
        self._advance()
        unique = tuple(dict.fromkeys(values))
        if kind == "attributes" and name == "run_id":  # the one field MLflow takes lists for
            return Comparison(kind, name, op, unique, False, key.position)
        if op == "IN":
            parts = tuple(Comparison(kind, name, "=", v, False, key.position) for v in unique)
            return parts[0] if len(parts) == 1 else Or(parts)
        parts = tuple(Comparison(kind, name, "!=", v, False, key.position) for v in unique)
        return parts[0] if len(parts) == 1 else And(parts)

    def _range(self) -> Node:
        low = self._advance()
        if self.token.kind != "op" or self.token.text not in ("<", "<=", ">", ">="):
            raise self._error(f"'<', '<=', '>' or '>=' after {low.source!r}")
        first_op = self._advance()
        kind, name, key = self._key()
        if not self._numeric(kind, name):
            raise InvalidFilterError(
                f"a range needs a numeric key, not {key.source!r}", self.query, key.position
            )
        self._check_value(low, kind, name)
        parts = [Comparison(kind, name, _FLIPPED[first_op.text], low.text, True, key.position)]
        if self.token.kind == "op" and self.token.text in ("<", "<=", ">", ">="):
            second_op = self._advance()
            if (first_op.text in ("<", "<=")) != (second_op.text in ("<", "<=")):
                raise InvalidFilterError(
                    "a range's two operators must point the same way",
                    self.query,
                    second_op.position,
                )
            parts.append(
                Comparison(kind, name, second_op.text, self._value(kind, name), True, key.position)
            )
        return parts[0] if len(parts) == 1 else And(tuple(parts))


def disjunctive_normal_form(node: Node, query: str) -> list[tuple[Comparison, ...]]:
    if isinstance(node, Comparison):
        return [(node,)]
    if isinstance(node, Or):
        out = [conj for part in node.parts for conj in disjunctive_normal_form(part, query)]
    else:
        out = [()]
        for part in node.parts:
            options = disjunctive_normal_form(part, query)
            if len(out) * len(options) > MAX_DISJUNCTS:
                raise _too_many(query)
            out = [a + b for a, b in itertools.product(out, options)]
    if len(out) > MAX_DISJUNCTS:
        raise _too_many(query)
    return out


def _too_many(query: str) -> InvalidFilterError:
    return InvalidFilterError(
        f"the filter expands to more than {MAX_DISJUNCTS} MLflow queries; use fewer 'or' "
        "branches or 'in' values",
        query,
        None,
    )
