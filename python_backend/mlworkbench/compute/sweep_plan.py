"""What a sweep will run, checked before any run exists: the script, its space, its trials.

Split from the runner so the editor can show (and the CLI can refuse) a sweep's trials without
touching the tracking store.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlworkbench.compute.sweep_errors import InvalidSweepError
from mlworkbench.compute.sweep_space import SweepSpace, Trial, parse_space

Mode = Literal["min", "max"]


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: the trials in the order they start, and how to run and judge them."""

    script: Path  # resolved, inside the workspace
    workspace: Path
    space: SweepSpace
    trials: list[Trial]
    strategy: Literal["grid", "random"]
    seed: int | None  # the random search's seed, recorded so the sample can be drawn again
    max_concurrent: int
    metric: str | None
    mode: Mode
    fixed_args: list[str] = field(default_factory=list)  # after `--`: the same for every trial
    experiment: str | None = None
    run_name: str | None = None
    tracking_uri: str | None = None
    python: str = sys.executable
    env: Mapping[str, str] | None = None


def plan_sweep(
    script: Path,
    params: Sequence[str],
    *,
    workspace: Path,
    random_trials: int | None = None,
    seed: int | None = None,
    max_concurrent: int = 1,
    metric: str | None = None,
    mode: str = "max",
    fixed_args: Sequence[str] = (),
    experiment: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
) -> SweepPlan:
    """Check the script (as `mlworkbench run` does) and the space against its parameters.

    Raises ScriptNotFoundError, ScriptOutsideWorkspaceError, the script-reading errors,
    UnknownSweepParameterError or InvalidSweepError.
    """
    from mlworkbench.analysis.script_analysis import analyze_file
    from mlworkbench.launch.preflight import check_script

    script_path, workspace_path = check_script(script, workspace)
    if max_concurrent < 1:
        raise InvalidSweepError(f"--max-concurrent must be at least 1, not {max_concurrent}")
    if mode not in ("min", "max"):
        raise InvalidSweepError(f"--mode must be min or max, not {mode!r}")
    space = parse_space(params, analyze_file(script_path).parameters)
    _refuse_fixed_overlap(space, fixed_args)
    strategy: Literal["grid", "random"] = "grid" if random_trials is None else "random"
    if random_trials is None:
        trials = space.grid()
    else:
        if seed is None:  # drawn here, and recorded, so any sample can be repeated
            seed = random.SystemRandom().randrange(2**31)
        trials = space.sample(random_trials, seed)
    return SweepPlan(
        script=script_path,
        workspace=workspace_path,
        space=space,
        trials=trials,
        strategy=strategy,
        seed=seed if strategy == "random" else None,
        max_concurrent=max_concurrent,
        metric=metric,
        mode="min" if mode == "min" else "max",
        fixed_args=list(fixed_args),
        experiment=experiment,
        run_name=run_name,
        tracking_uri=tracking_uri,
        python=python,
        env=env,
    )


def _refuse_fixed_overlap(space: SweepSpace, fixed_args: Sequence[str]) -> None:
    """A swept option also given after `--` would have two values; which wins depends on the
    parser, so refuse it rather than run trials that do not vary."""
    given = {arg.split("=", 1)[0] for arg in fixed_args if arg.startswith("-")}
    for parameter in space.parameters:
        clash = given.intersection(parameter.declared.flags)
        if clash:
            raise InvalidSweepError(
                f"parameter '{parameter.name}' is swept and also given after -- "
                f"({', '.join(sorted(clash))}); give it one way",
                parameter.name,
            )
