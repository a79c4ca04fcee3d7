"""A quick look at a data set's columns for the report wizard: names, distinct values, numeric.

The language server answers this itself (it only reads), so it must stay cheap whatever the
file's size: a CSV is read with the standard library up to PREVIEW_ROWS rows, a Parquet file's
first row group through pyarrow (pandas' own Parquet engine). Counts are of the rows read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from mlworkbench.reports.report_data import SUFFIXES, display_path
from mlworkbench.reports.report_errors import ReportDataError

PREVIEW_ROWS = 5_000
DISTINCT_CAP = 10_000  # stop counting past this: "many" is all the wizard needs to know
_MAX_FIELD = 1 << 20


@dataclass(frozen=True)
class PreviewColumn:
    name: str
    distinct: int
    numeric: bool


@dataclass(frozen=True)
class DataPreview:
    path: str
    columns: list[PreviewColumn]
    sampled_rows: int


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def inspect_data(path: str, *, workspace: Path) -> DataPreview:
    file = Path(path).expanduser()
    if not file.is_absolute():
        file = workspace / file
    if not file.is_file():
        raise ReportDataError(path, "no such file; check the path")
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReportDataError(path, f"expected a .csv or .parquet file, got {suffix or 'none'!r}")
    names, rows = _parquet_rows(file) if suffix != ".csv" else _csv_rows(file, path)
    columns = []
    for index, name in enumerate(names):
        values = [row[index] for row in rows if index < len(row)]
        present = [v for v in values if v not in ("", None)]
        columns.append(
            PreviewColumn(
                name=name,
                distinct=min(len(set(values)), DISTINCT_CAP),
                numeric=bool(present) and all(_is_number(str(v)) for v in present),
            )
        )
    return DataPreview(display_path(file, workspace), columns, len(rows))


def _csv_rows(file: Path, shown: str) -> tuple[list[str], list[list[str]]]:
    csv.field_size_limit(_MAX_FIELD)
    try:
        with file.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ReportDataError(shown, "it is empty")
            rows = []
            for row in reader:
                rows.append(row)
                if len(rows) >= PREVIEW_ROWS:
                    break
    except csv.Error as error:
        raise ReportDataError(shown, f"it does not parse as CSV: {error}") from error
    return header, rows


def _parquet_rows(file: Path) -> tuple[list[str], list[list[object]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ReportDataError(file, "reading Parquet needs pyarrow; install it") from error
    try:
        parquet = pq.ParquetFile(file)
        names = [str(name) for name in parquet.schema_arrow.names]
        if parquet.num_row_groups == 0:
            return names, []
        table = parquet.read_row_group(0).slice(0, PREVIEW_ROWS)
    except (OSError, ValueError) as error:
        raise ReportDataError(file, f"it does not parse as Parquet: {error}") from error
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return names, [list(row) for row in zip(*columns, strict=True)]
