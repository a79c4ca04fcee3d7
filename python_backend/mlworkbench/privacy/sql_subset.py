"""The SQL a private query may be written in, parsed by hand: one SELECT of counts, sums and
means over the table `data`, with an optional row filter and grouping.

smartnoise-sql, which parses full SQL, cannot be installed beside pandas 3 (it pins pandas < 3),
and sqlglot is not among our dependencies; the subset below is small enough to parse exactly,
and nothing in it is ever evaluated as code:

    SELECT item [, item]… FROM data
      [WHERE cond [AND cond]…]
      [GROUP BY col [, col]…] [;]

    item := COUNT(*) | COUNT(col) | SUM(col) | AVG(col) | col   [[AS] alias]
    cond := col (= | != | <> | < | <= | > | >=) literal  |  col IS [NOT] NULL
    literal := number | 'text' | TRUE | FALSE
    col := name | "quoted name" | `quoted name`

Keywords are case-insensitive; a plain column in the SELECT list must be in GROUP BY.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mlworkbench.reports.report_errors import InvalidReportInputError

AggregateFunction = Literal["COUNT", "SUM", "AVG"]
Operator = Literal["=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL"]
Literal_ = str | float | int | bool | None
TABLE = "data"
MAX_SQL_CHARS = 10_000

_KEYWORDS = {"SELECT", "FROM", "WHERE", "GROUP", "BY", "AND", "AS", "IS", "NOT", "NULL"}
_FUNCTIONS = {"COUNT", "SUM", "AVG", "MEAN"}
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")+"|`(?:[^`]|``)+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<punct>[(),*;])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Aggregate:
    function: AggregateFunction
    column: str | None  # None for COUNT(*)
    label: str  # the alias, else the text as written ("AVG(age)")


@dataclass(frozen=True)
class GroupKey:
    column: str
    label: str


@dataclass(frozen=True)
class Condition:
    column: str
    op: Operator
    value: Literal_ = None


@dataclass(frozen=True)
class Query:
    text: str
    items: list[Aggregate | GroupKey]  # in SELECT order
    where: list[Condition] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)

    @property
    def aggregates(self) -> list[Aggregate]:
        return [item for item in self.items if isinstance(item, Aggregate)]

    @property
    def columns(self) -> list[str]:
        """Every column the query reads."""
        names = [c.column for c in self.where] + self.group_by
        names += [a.column for a in self.aggregates if a.column is not None]
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "name" else self.text


def _error(message: str, token: _Token | None = None) -> InvalidReportInputError:
    where = f" at character {token.position + 1} ({token.text!r})" if token else " at the end"
    return InvalidReportInputError(f"cannot read the SQL: {message}{where}", "sql")


def _tokens(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None:
            raise InvalidReportInputError(
                f"cannot read the SQL: unexpected {sql[position]!r} at character {position + 1}",
                "sql",
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, sql: str) -> None:
        self.tokens = _tokens(sql)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise _error(f"expected {what}")
        self.index += 1
        return token

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.upper in words:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        token = self.next(word)
        if token.upper != word:
            raise _error(f"expected {word}", token)

    def name(self, what: str) -> str:
        token = self.next(what)
        if token.kind == "quoted":
            quote = token.text[0]
            return token.text[1:-1].replace(quote * 2, quote)
        if token.kind != "name" or token.upper in _KEYWORDS:
            raise _error(f"expected {what}", token)
        return token.text

    def item(self) -> Aggregate | GroupKey:
        start = self.peek()
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        result: Aggregate | GroupKey
        if (
            start is not None
            and start.upper in _FUNCTIONS
            and following is not None
            and following.text == "("
        ):
            self.index += 2
            function: AggregateFunction = "AVG" if start.upper == "MEAN" else start.upper  # type: ignore[assignment]
            column: str | None
            if self.accept("*"):
                if function != "COUNT":
                    raise _error(f"{function}(*) is not defined; name a column", start)
                column = None
            else:
                column = self.name(f"a column inside {function}( )")
            self.expect(")")
            written = f"{function}({'*' if column is None else column})"
            result = Aggregate(function, column, self.alias() or written)
        elif start is not None and start.kind == "name" and start.upper in _FUNCTIONS - {"MEAN"}:
            raise _error(f"expected ( after {start.upper}", following or start)
        else:
            column = self.name("COUNT, SUM, AVG or a column")
            result = GroupKey(column, self.alias() or column)
        return result

    def alias(self) -> str | None:
        if self.accept("AS"):
            return self.name("an alias after AS")
        token = self.peek()
        if token is not None and (
            token.kind == "quoted" or (token.kind == "name" and token.upper not in _KEYWORDS)
        ):
            return self.name("an alias")
        return None

    def literal(self) -> Literal_:
        token = self.next("a value")
        if token.kind == "number":
            number = float(token.text)
            return int(number) if re.fullmatch(r"-?\d+", token.text) else number
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.upper in ("TRUE", "FALSE"):
            return token.upper == "TRUE"
        raise _error("expected a number, a 'quoted text', TRUE or FALSE", token)

    def condition(self) -> Condition:
        column = self.name("a column in WHERE")
        if self.accept("IS"):
            negated = self.accept("NOT")
            self.expect("NULL")
            return Condition(column, "IS NOT NULL" if negated else "IS NULL")
        token = self.next("a comparison")
        if token.kind != "op":
            raise _error("expected =, !=, <, <=, > or >=", token)
        op: Operator = "!=" if token.text == "<>" else token.text  # type: ignore[assignment]
        return Condition(column, op, self.literal())

    def query(self, text: str) -> Query:
        self.expect("SELECT")
        items = [self.item()]
        while self.accept(","):
            items.append(self.item())
        self.expect("FROM")
        at = self.peek()
        table = self.name(f"the table name ({TABLE})")
        if table.lower() != TABLE:
            raise _error(f"the table is called {TABLE!r} (the data file), not {table!r}", at)
        where: list[Condition] = []
        if self.accept("WHERE"):
            where.append(self.condition())
            while self.accept("AND"):
                where.append(self.condition())
            token = self.peek()
            if token is not None and token.upper == "OR":
                raise _error("OR is not supported; conditions combine with AND", token)
        group_by: list[str] = []
        if self.accept("GROUP"):
            self.expect("BY")
            group_by.append(self.name("a column in GROUP BY"))
            while self.accept(","):
                group_by.append(self.name("a column in GROUP BY"))
        self.accept(";")
        token = self.peek()
        if token is not None:
            raise _error(
                "expected the end of the query (only WHERE … AND … and GROUP BY are supported)",
                token,
            )
        return Query(text, items, where, group_by)


def parse_query(sql: str) -> Query:
    """The query `sql` as data, or `InvalidReportInputError` (field "sql") saying where it
    left the subset."""
    text = sql.strip()
    if not text:
        raise InvalidReportInputError("the SQL is empty; write SELECT COUNT(*) FROM data", "sql")
    if len(text) > MAX_SQL_CHARS:
        raise InvalidReportInputError(f"the SQL is longer than {MAX_SQL_CHARS} characters", "sql")
    query = _Parser(text).query(text)
    if not query.aggregates:
        raise InvalidReportInputError(
            "the query has no COUNT, SUM or AVG; a private query releases aggregates only", "sql"
        )
    for item in query.items:
        if isinstance(item, GroupKey) and item.column not in query.group_by:
            raise InvalidReportInputError(
                f"column {item.column!r} is selected but neither aggregated nor in GROUP BY",
                "sql",
            )
    labels = [item.label for item in query.items]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InvalidReportInputError(
            f"two results are called {duplicates[0]!r}; give one an alias (… AS name)", "sql"
        )
    return query
