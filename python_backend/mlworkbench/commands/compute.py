"""`mlworkbench compute start [--num-cpus N] | stop | status [--address URL] [--json]`: the
workbench's local Ray cluster, and a probe of any Ray cluster, from a shell.

`start` returns the running cluster when there is one; `status` without --address probes the
workbench's own cluster. Exit status: 0, or 1 when `status` finds no reachable cluster.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlworkbench.commands import Subcommand

EXIT_NOT_RUNNING = 1


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)
    start = actions.add_parser("start", help="start the workbench's local Ray cluster")
    start.add_argument("--num-cpus", type=int, default=None, help="CPUs for Ray (default: all)")
    start.add_argument("--json", action="store_true", help="print the cluster as JSON")
    stop = actions.add_parser("stop", help="stop the workbench's local Ray cluster")
    stop.add_argument("--json", action="store_true", help="print the outcome as JSON")
    status = actions.add_parser("status", help="probe a Ray cluster (default: the local one)")
    status.add_argument("--address", default=None, help="a Ray dashboard address, http://host:port")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def _start(args: argparse.Namespace) -> int:
    from mlworkbench.compute.ray_cluster import start_local_cluster

    info = start_local_cluster(num_cpus=args.num_cpus)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(f"local Ray cluster at {info.address} (temp dir {info.temp_dir})")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from mlworkbench.compute.ray_cluster import stop_local_cluster

    stopped = stop_local_cluster()
    if args.json:
        print(json.dumps({"stopped": stopped}))
    else:
        print("local Ray cluster stopped" if stopped else "no local Ray cluster was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from mlworkbench.compute.ray_cluster import cluster_status, local_cluster

    address = args.address
    if address is None:
        info = local_cluster()
        if info is None:
            if args.json:
                print(json.dumps({"reachable": False, "address": None, "error": None}))
            else:
                print("no local Ray cluster is running; start one with `mlworkbench compute start`")
            return EXIT_NOT_RUNNING
        address = info.address
    status = cluster_status(address)
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
    elif status.reachable:
        print(
            f"{status.address}: {status.nodes} node(s), {status.cpus:g} CPUs, "
            f"{status.gpus:g} GPUs (Ray {status.ray_version})"
        )
    else:
        print(f"not reachable: {status.error}", file=sys.stderr)
    return 0 if status.reachable else EXIT_NOT_RUNNING


def _run(args: argparse.Namespace) -> int:
    handlers = {"start": _start, "stop": _stop, "status": _status}
    return handlers[args.action](args)


COMMAND = Subcommand(
    name="compute",
    help="start, stop or probe a Ray cluster for `mlworkbench run --target`",
    configure=_configure,
    run=_run,
)
