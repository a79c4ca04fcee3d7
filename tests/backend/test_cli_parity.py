"""Everything the editor does, the CLI does too: every request of the protocol has a CLI verb.

Each request the extension sends (`mlworkbench_server.protocol.REQUESTS`) is either mapped to
the verbs that do the same in a shell, or listed, with the reason, as editor plumbing that has
no meaning outside an editor. A new request in neither list fails here, and so does a mapped
verb the CLI's parser (cli.build_parser) does not have.
"""

from __future__ import annotations

import argparse

from mlworkbench.cli import build_parser
from mlworkbench_server.protocol import REQUESTS

# Request key -> the CLI verbs ("runs list" = subcommand and action) that do what it does.
CLI_VERBS: dict[str, tuple[str, ...]] = {
    "ANALYZE_SCRIPT": ("analyze",),
    "START_RUN": ("run",),
    "LIST_RUNS": ("runs list",),
    "QUERY_RUNS": ("runs list",),  # --filter, --order-by, --experiment, --max
    "COMPARE_RUNS": ("runs compare",),
    "RUN_DETAILS": ("runs show",),
    "LIST_ARTIFACTS": ("runs show",),  # lists the run's artifacts after its details
    "EDIT_RUN": ("runs rename", "runs note", "runs tag", "runs delete", "runs restore"),
    "LIST_MODELS": ("models list",),
    "REGISTER_MODEL": ("models register",),
    "SET_MODEL_ALIAS": ("models alias",),
    "DELETE_MODEL_ALIAS": ("models alias",),  # `models alias NAME ALIAS --remove`
    "OPEN_MONITOR": ("ui", "tensorboard"),
    # createReport runs these very verbs in a child process (reports_requests.VERBS).
    "CREATE_REPORT": (
        "report fairness",
        "report mitigate",
        "report explain",
        "report card",
        "privacy synth",
        "privacy query",
    ),
    "LIST_REPORTS": ("report list",),
    "READ_REPORT": ("report show",),
    # buildImage runs this very verb in a child process (deploy_requests.build_argv).
    "BUILD_IMAGE": ("deploy build",),
    "LIST_DEPLOYMENTS": ("deploy list",),
    "START_CONTAINER": ("deploy start",),
    "STOP_CONTAINER": ("deploy stop",),
    "REMOVE_IMAGE": ("deploy remove",),
    "CONTAINER_LOGS": ("deploy logs",),
    "INVOKE_CONTAINER": ("deploy invoke",),
    "SAMPLE_REQUEST": ("deploy invoke",),  # without --body it sends the sample request
    "WRITE_K8S": ("deploy k8s",),
    "WRITE_WORKFLOW": ("ci github-actions",),
    # startSweep runs this very verb in a child process (compute_requests.sweep_argv).
    "START_SWEEP": ("sweep",),
    # Compute targets: the local Ray cluster and the workspace's tracking server.
    "LIST_COMPUTE_TARGETS": ("compute status", "server status"),
    "START_LOCAL_CLUSTER": ("compute start",),
    "STOP_LOCAL_CLUSTER": ("compute stop",),
    "START_TRACKING_SERVER": ("server start",),
    "STOP_TRACKING_SERVER": ("server stop",),
}

# Requests that only make sense inside an editor, each with what stands for it in a shell.
EDITOR_PLUMBING: dict[str, str] = {
    # The language server's own version, interpreter and pid, for the status bar and the
    # log; `mlworkbench --version` and `mlworkbench doctor` say the same of the CLI.
    "SERVER_INFO": "the server's identity",
    # Cancels a run the server started; `mlworkbench run` is cancelled with Ctrl+C.
    "CANCEL_RUN": "Ctrl+C in `mlworkbench run`",
    # Builds a debugger launch configuration (bootstrap as the program) for VS Code's debugger;
    # in a shell one runs the script under a debugger directly.
    "PREPARE_DEBUG_RUN": "a VS Code debug configuration",
    # Fills the Runs view's experiment picker; `runs list --experiment NAME` filters by it.
    "LIST_EXPERIMENTS": "the experiment picker",
    # Turns an artifact into a local file for an editor tab; `runs show` lists the artifacts
    # and the files are under the run's artifact folder.
    "RESOLVE_ARTIFACT": "opening an artifact in an editor tab",
    # Stops the MLflow UI / TensorBoard servers the editor started; `mlworkbench ui` and
    # `mlworkbench tensorboard` stop theirs with Ctrl+C.
    "STOP_MONITORS": "Ctrl+C in `mlworkbench ui` / `tensorboard`",
    # Stops a report the editor is making; a report in a shell stops with Ctrl+C.
    "CANCEL_REPORT": "Ctrl+C in `mlworkbench report …`",
    # Lists a data file's columns for the report wizard's pickers; in a shell one names them.
    "INSPECT_DATA": "the report wizard's column pickers",
    # Stops an image build the editor started; `mlworkbench deploy build` stops with Ctrl+C.
    "CANCEL_BUILD": "Ctrl+C in `mlworkbench deploy build`",
    # Stops a sweep the editor started (every trial in flight); `mlworkbench sweep` stops
    # with Ctrl+C or SIGTERM.
    "CANCEL_SWEEP": "Ctrl+C in `mlworkbench sweep`",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: subparser
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, subparser in action.choices.items()
    }


def cli_verbs(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    """Every verb of the parser: `runs`, `runs list`, `models alias`, … (any depth)."""
    verbs: set[str] = set()
    for name, subparser in _subcommands(parser).items():
        verb = f"{prefix}{name}"
        verbs.add(verb)
        verbs |= cli_verbs(subparser, f"{verb} ")
    return verbs


def test_the_parser_introspection_sees_nested_verbs() -> None:
    verbs = cli_verbs(build_parser())
    assert {"run", "runs", "runs list", "runs compare", "models alias", "ui"} <= verbs
    assert "list" not in verbs  # actions are named with their subcommand


def test_every_request_has_a_cli_verb_or_is_editor_plumbing() -> None:
    both = CLI_VERBS.keys() & EDITOR_PLUMBING.keys()
    assert not both, f"requests both mapped and called plumbing: {sorted(both)}"
    unlisted = REQUESTS.keys() - CLI_VERBS.keys() - EDITOR_PLUMBING.keys()
    assert not unlisted, (
        f"requests without a CLI verb: {sorted(unlisted)}; add the verb to the CLI and map it "
        "in CLI_VERBS, or say in EDITOR_PLUMBING why a shell has no use for it"
    )
    stale = (CLI_VERBS.keys() | EDITOR_PLUMBING.keys()) - REQUESTS.keys()
    assert not stale, f"listed requests the protocol no longer has: {sorted(stale)}"


def test_every_mapped_verb_exists_in_the_cli() -> None:
    verbs = cli_verbs(build_parser())
    missing = {
        request: [verb for verb in mapped if verb not in verbs]
        for request, mapped in CLI_VERBS.items()
        if any(verb not in verbs for verb in mapped)
    }
    assert not missing, f"mapped to verbs the CLI does not have: {missing}"
