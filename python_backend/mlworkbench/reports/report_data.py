"""The data set a report reads: a CSV or Parquet file, checked before it is trusted.

A report is only as good as its rows, so nothing here is silent: a file past the size limit is
refused before it is read (a 2 GB CSV must not take the process down), a misspelled column
names the closest real one, and the file's SHA-256 identifies the data set to the privacy ledger
and the model card whatever its path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.reports.report_document import DataSource
from mlworkbench.reports.report_errors import ColumnNotFoundError, ReportDataError

if TYPE_CHECKING:
    import pandas as pd

# Files past this are refused unless the caller raises it (`--max-data-mb`): pandas needs a few
# times the file's size in memory, and a report never needs more rows than this to be right.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
SUFFIXES = (".csv", ".parquet", ".pq")
_HASH_CHUNK = 1 << 20


@dataclass
class LoadedData:
    frame: pd.DataFrame
    source: DataSource


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def display_path(path: Path, workspace: Path | None) -> str:
    """Relative to the workspace when inside it: reports travel with the run, paths should too."""
    if workspace is not None:
        try:
            return str(path.resolve().relative_to(workspace.resolve()))
        except ValueError:
            pass
    return str(path)


def load_table(
    path: Path | str,
    *,
    workspace: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedData:
    """Read a CSV or Parquet file whole, after checking it exists, fits, and parses.

    Raises `ReportDataError` (missing, a folder, another format, too large, unparsable, empty).
    """
    import pandas as pd

    file = Path(path).expanduser()
    if workspace is not None and not file.is_absolute():
        file = workspace / file
    if not file.exists():
        raise ReportDataError(path, "no such file; check the path")
    if not file.is_file():
        raise ReportDataError(path, "it is not a file")
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReportDataError(path, f"expected a .csv or .parquet file, got {suffix or 'none'!r}")
    size = file.stat().st_size
    if size > max_bytes:
        raise ReportDataError(
            path,
            f"it is {size / 2**20:,.0f} MiB, past the {max_bytes / 2**20:,.0f} MiB limit; "
            "sample it first or raise the limit (--max-data-mb / mlWorkbench.reports.maxDataMb)",
        )
    try:
        frame = pd.read_parquet(file) if suffix != ".csv" else pd.read_csv(file)
    except (OSError, ValueError, ImportError, pd.errors.ParserError) as error:
        raise ReportDataError(path, f"it does not parse as {suffix[1:]}: {error}") from error
    if frame.empty:
        raise ReportDataError(path, "it has no rows")
    frame.columns = [str(column) for column in frame.columns]
    source: DataSource = {
        "path": display_path(file, workspace),
        "sha256": file_sha256(file),
        "rows": int(frame.shape[0]),
        "columns": int(frame.shape[1]),
    }
    return LoadedData(frame, source)


def require_columns(frame: pd.DataFrame, names: list[str], role: str) -> None:
    """`ColumnNotFoundError` (with the closest real name) for the first name not in `frame`."""
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in available:
            raise ColumnNotFoundError(name, role, available)
