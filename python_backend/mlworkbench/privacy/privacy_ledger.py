"""The privacy ledger: each epsilon spent on a data set is an MLflow run in the `privacy`
experiment, and a spend that would take the data set past its budget is refused before any noise
is drawn.

Composition is basic sequential composition: the epsilons of every release on one data set add
up. It is loose (advanced or zCDP composition would admit more releases) but never wrong, and
every mechanism here is pure epsilon-DP, so the sum is the guarantee. A data set is its file's
SHA-256, whatever its path or name: a copy is the same data set, an edited file a new one.

What the ledger never forgets: deleted runs still count (deleting an entry in the MLflow UI gives
no epsilon back, the release it paid for is out), and a release that failed after it was charged
counts too (noise may have been drawn). What it cannot do: serialise processes on different
machines that share one tracking server, since the lock is a local `flock`.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlworkbench.reports.report_errors import InvalidReportInputError, PrivacyBudgetError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

    from mlworkbench.reports.report_document import DataSource

PRIVACY_EXPERIMENT = "privacy"
DEFAULT_BUDGET = 10.0
TAG_DATASET = "mlworkbench.privacy.dataset"
TAG_PATH = "mlworkbench.privacy.datasetPath"
TAG_MECHANISM = "mlworkbench.privacy.mechanism"
TAG_EPSILON = "mlworkbench.privacy.epsilon"
TAG_DELTA = "mlworkbench.privacy.delta"
TAG_BUDGET = "mlworkbench.privacy.budget"
# "charged" when recorded; "failed" when the release then failed (its epsilon still counts).
TAG_OUTCOME = "mlworkbench.privacy.outcome"
# Sums of decimal epsilons are not exact in binary (0.1 + 0.2 > 0.3): a spend that reaches the
# budget within this relative slack is allowed, so 10 x 0.1 fits a budget of 1.
_SLACK = 1e-9
_MAX_PARAM_CHARS = 500
_PAGE = 1000


@dataclass(frozen=True)
class LedgerEntry:
    run_id: str
    run_name: str
    dataset: str  # SHA-256 of the data file
    dataset_path: str
    mechanism: str
    epsilon: float
    delta: float | None  # for (epsilon, delta)-DP spends such as DP-SGD; None for pure DP
    start_time: int | None  # ms since the epoch
    outcome: str


@dataclass(frozen=True)
class Charge:
    """A recorded spend: its ledger entry and the budget around it."""

    entry: LedgerEntry
    spent_before: float
    budget: float

    @property
    def spent_after(self) -> float:
        return self.spent_before + self.entry.epsilon

    @property
    def left(self) -> float:
        return max(self.budget - self.spent_after, 0.0)


def check_epsilon(epsilon: object, field: str = "epsilon") -> float:
    """`epsilon` as a float when it is a positive finite number, else `InvalidReportInputError`."""
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float))
        or not math.isfinite(epsilon)
        or epsilon <= 0
    ):
        raise InvalidReportInputError(
            f"{field} must be a positive finite number, got {epsilon!r}", field
        )
    return float(epsilon)


def check_budget(budget: float | None) -> float:
    return DEFAULT_BUDGET if budget is None else check_epsilon(budget, "budget")


def spent(workspace: Path, sha256: str, *, tracking_uri: str | None = None) -> float:
    """Epsilon spent on the data set so far: the sum over its ledger entries (sequential
    composition), deleted and failed entries included."""
    return math.fsum(
        entry.epsilon for entry in ledger(workspace, sha256, tracking_uri=tracking_uri)
    )


def ledger(
    workspace: Path, sha256: str | None = None, *, tracking_uri: str | None = None
) -> list[LedgerEntry]:
    """The ledger's entries, oldest first: of one data set, or of all of them."""
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None:
        return []
    experiment = client.get_experiment_by_name(PRIVACY_EXPERIMENT)
    if experiment is None:
        return []
    runs = _search(client, str(experiment.experiment_id), sha256)
    entries = [_entry(run) for run in runs]
    return sorted(entries, key=lambda entry: (entry.start_time or 0, entry.run_id))


def charge(
    workspace: Path,
    source: DataSource,
    epsilon: float,
    *,
    mechanism: str,
    budget: float | None = None,
    run_name: str | None = None,
    delta: float | None = None,
    params: Mapping[str, object] | None = None,
    tracking_uri: str | None = None,
) -> Charge:
    """Record a spend of `epsilon` on `source`'s data set, or raise `PrivacyBudgetError` when the
    data set's spent epsilon plus this one would pass `budget` (default 10).

    Call it after every input is checked and before any noise is drawn. The check and the new
    entry happen under an exclusive lock on (store, data set), so two processes charging the
    same data set at once cannot both spend its last epsilon. The entry is a finished run in the
    `privacy` experiment; the release logs its results and report into it (`run_id`).
    """
    from mlflow.entities import Metric, Param

    amount = check_epsilon(epsilon)
    limit = check_budget(budget)
    if delta is not None and not 0 <= delta < 1:
        raise InvalidReportInputError(f"delta must be in [0, 1), got {delta!r}", "delta")
    sha256 = source["sha256"]
    client, experiment_id, uri = _open_for_writing(workspace, tracking_uri)
    with _ledger_lock(uri, sha256):
        before = math.fsum(_entry(run).epsilon for run in _search(client, experiment_id, sha256))
        if before + amount > limit + _SLACK * max(limit, 1.0):
            raise PrivacyBudgetError(source["path"], before, amount, limit)
        name = run_name or f"{mechanism} ε={amount:g} {Path(source['path']).name}"
        tags = {
            TAG_DATASET: sha256,
            TAG_PATH: source["path"],
            TAG_MECHANISM: mechanism,
            TAG_EPSILON: repr(amount),
            TAG_BUDGET: repr(limit),
            TAG_OUTCOME: "charged",
        }
        if delta is not None:
            tags[TAG_DELTA] = repr(float(delta))
        run = client.create_run(experiment_id, run_name=name, tags=tags)
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    logged = {"epsilon": amount, "budget": limit, **(params or {})}
    client.log_batch(
        run_id,
        metrics=[
            Metric("epsilon", amount, now, 0),
            Metric("epsilon_spent_total", before + amount, now, 0),
        ],
        params=[Param(key, str(value)[:_MAX_PARAM_CHARS]) for key, value in logged.items()],
    )
    client.set_terminated(run_id, "FINISHED")
    entry = LedgerEntry(
        run_id=run_id,
        run_name=name,
        dataset=sha256,
        dataset_path=source["path"],
        mechanism=mechanism,
        epsilon=amount,
        delta=None if delta is None else float(delta),
        start_time=run.info.start_time,
        outcome="charged",
    )
    return Charge(entry, before, limit)


def mark_failed(
    workspace: Path, run_id: str, reason: str, *, tracking_uri: str | None = None
) -> None:
    """The release charged as `run_id` failed: say so on its run. Its epsilon still counts,
    since noise may have been drawn before the failure."""
    from mlworkbench.tracking.tracking_client import open_client

    client = open_client(workspace, tracking_uri)
    if client is None:
        return
    client.set_tag(run_id, TAG_OUTCOME, "failed")
    client.set_tag(run_id, "mlworkbench.privacy.failure", reason[:_MAX_PARAM_CHARS])
    client.set_terminated(run_id, "FAILED")


def _open_for_writing(workspace: Path, tracking_uri: str | None) -> tuple[MlflowClient, str, str]:
    """A client on the workspace's store (created when it is a new local one), the `privacy`
    experiment's id, and the resolved URI."""
    from mlflow.tracking import MlflowClient

    from mlworkbench.errors import (
        ExperimentDeletedError,
        PrivateFolderRefusedError,
        TrackingUnavailableError,
    )
    from mlworkbench.launch.child.store_open import StoreOpenError, resolve_experiment, store_lock
    from mlworkbench.tracking.tracking_client import checked_tracking_uri
    from mlworkbench.tracking.tracking_uri import resolve_tracking_uri

    # Corrupt, too new or unreachable stores are refused here with the explorer's typed errors;
    # None means a local store that does not exist yet, which MlflowClient creates.
    uri = checked_tracking_uri(workspace, tracking_uri) or resolve_tracking_uri(
        workspace, tracking_uri
    )
    try:
        # Two processes creating a fresh SQLite store at once would both run its migrations.
        with store_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name(PRIVACY_EXPERIMENT)
            if experiment is not None and experiment.lifecycle_stage != "active":
                # Its runs are the ledger: a new experiment of another name would forget them.
                raise ExperimentDeletedError(str(experiment.experiment_id), PRIVACY_EXPERIMENT)
            experiment_id = resolve_experiment(client, PRIVACY_EXPERIMENT)
    except StoreOpenError as error:
        if error.kind == "store_lock":
            raise PrivateFolderRefusedError(lock_folder_path(), error.message) from error
        raise TrackingUnavailableError(uri, error.message) from error
    return client, experiment_id, uri


@contextmanager
def _ledger_lock(tracking_uri: str, sha256: str) -> Iterator[None]:
    """An exclusive `flock` per (store, data set) on a file in this user's private lock folder
    (the store lock's own: `$XDG_RUNTIME_DIR` or `<temp>/mlworkbench-<uid>`, 0700 and checked),
    never a fixed name in the shared temp folder that another user could create first."""
    from mlworkbench.errors import PrivateFolderRefusedError
    from mlworkbench.launch.child.store_open import StoreOpenError, lock_folder

    try:
        folder = lock_folder()
    except StoreOpenError as error:
        raise PrivateFolderRefusedError(lock_folder_path(), error.message) from error
    digest = hashlib.sha256(f"{tracking_uri}\0{sha256}".encode()).hexdigest()[:24]
    path = folder / f"mlworkbench-privacy-{digest}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise PrivateFolderRefusedError(path, error.strerror or str(error)) from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_folder_path() -> Path:
    """Where `lock_folder` puts locks when $XDG_RUNTIME_DIR is not usable (for error messages)."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"mlworkbench-{os.getuid()}"


def _search(client: MlflowClient, experiment_id: str, sha256: str | None) -> list[Run]:
    from mlflow.entities import ViewType

    if sha256 is not None and not all(c in "0123456789abcdef" for c in sha256.lower()):
        raise InvalidReportInputError(f"not a SHA-256 digest: {sha256!r}", "dataset")
    query = f"tags.`{TAG_DATASET}` = '{sha256}'" if sha256 else ""
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=query,
            run_view_type=ViewType.ALL,  # deleted entries still count
            max_results=_PAGE,
            page_token=token,
        )
        runs.extend(run for run in page if TAG_EPSILON in run.data.tags)
        token = page.token
        if not token:
            return runs


def _entry(run: Run) -> LedgerEntry:
    tags = run.data.tags
    delta = tags.get(TAG_DELTA)
    return LedgerEntry(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        dataset=tags.get(TAG_DATASET, ""),
        dataset_path=tags.get(TAG_PATH, ""),
        mechanism=tags.get(TAG_MECHANISM, ""),
        epsilon=_recorded_epsilon(tags.get(TAG_EPSILON, "")),
        delta=None if delta is None else _recorded_epsilon(delta),
        start_time=run.info.start_time,
        outcome=tags.get(TAG_OUTCOME, ""),
    )


def _recorded_epsilon(text: str) -> float:
    """A recorded epsilon; one edited into something unreadable or negative counts as infinite,
    so a damaged entry blocks further spends instead of silently refunding them."""
    try:
        value = float(text)
    except ValueError:
        return math.inf
    return value if math.isfinite(value) and value >= 0 else math.inf
