"""Compute-target requests: the Compute view's listing, the workbench's local Ray cluster, and the
workspace's tracking server.

The targets come from the client, which reads them from `mlWorkbench.computeTargets`, a machine
setting: a repository's `.vscode/settings.json` cannot add an address, so opening a workspace
never sends anything anywhere. Each target is probed with a short timeout in parallel (an
unreachable address costs seconds, never a hang) and the listing names why a target is down.

Starting or stopping the cluster or the tracking server starts or stops processes: EXECUTE, and
so refused in Restricted Mode; listing only contacts the user's own addresses: NETWORK.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from mlworkbench_server.protocol import REQUESTS
from mlworkbench_server.request_path import Trust, request, workspace_of

if TYPE_CHECKING:
    from pathlib import Path

    from mlworkbench.compute.ray_cluster import ClusterInfo, ClusterStatus
    from mlworkbench.tracking.tracking_server import ServerInfo
    from mlworkbench_server.compute_protocol import (
        ComputeTargetSetting,
        ComputeTargetState,
        ListComputeTargetsParams,
        ListComputeTargetsResult,
        StartLocalClusterParams,
        StopLocalClusterResult,
        StopTrackingServerResult,
        TrackingServerParams,
        TrackingServerState,
    )
    from mlworkbench_server.protocol import NoParams
    from mlworkbench_server.server import WorkbenchServer

LOCAL_CLUSTER_NAME = "Local Ray cluster"
PROBE_TIMEOUT_S = 5.0
MAX_TARGETS = 32  # probed at once; a longer list is a mistake in the setting


def _state(
    name: str, address: str, status: ClusterStatus | None, *, managed: bool
) -> ComputeTargetState:
    return {
        "name": name,
        "kind": "ray",
        "address": address,
        "managed": managed,
        "reachable": bool(status and status.reachable),
        "nodes": status.nodes if status else None,
        "cpus": status.cpus if status else None,
        "gpus": status.gpus if status else None,
        "error": status.error if status else None,
    }


def local_state() -> ComputeTargetState:
    """This machine's plain processes: always there."""
    return {
        "name": "Local",
        "kind": "local",
        "address": None,
        "managed": False,
        "reachable": True,
        "nodes": 1,
        "cpus": None,
        "gpus": None,
        "error": None,
    }


def _probe(address: str) -> ClusterStatus:
    from mlworkbench.compute.ray_cluster import cluster_status

    return cluster_status(address, timeout_s=PROBE_TIMEOUT_S)


def managed_state(cluster: ClusterInfo | None) -> ComputeTargetState:
    """The workbench's own cluster, started or not (Start shows on a stopped one)."""
    if cluster is None:
        return {
            "name": LOCAL_CLUSTER_NAME,
            "kind": "ray",
            "address": None,
            "managed": True,
            "reachable": False,
            "nodes": None,
            "cpus": None,
            "gpus": None,
            "error": None,
        }
    return _state(LOCAL_CLUSTER_NAME, cluster.address, _probe(cluster.address), managed=True)


def list_targets(settings: list[ComputeTargetSetting]) -> list[ComputeTargetState]:
    """Local, the managed cluster, then the user's targets in the setting's order."""
    from mlworkbench.compute.ray_cluster import local_cluster

    wanted = settings[:MAX_TARGETS]
    with ThreadPoolExecutor(max_workers=min(8, len(wanted) + 1)) as pool:
        managed = pool.submit(lambda: managed_state(local_cluster()))
        probes = [pool.submit(_probe, target["address"]) for target in wanted]
        states = [
            _state(target["name"], target["address"], probe.result(), managed=False)
            for target, probe in zip(wanted, probes, strict=True)
        ]
        return [local_state(), managed.result(), *states]


def tracking_state(info: ServerInfo | None) -> TrackingServerState | None:
    if info is None:
        return None
    return {"uri": info.uri, "backend": info.backend, "pid": info.pid}


def _workspace_server(workspace: Path) -> ServerInfo | None:
    from mlworkbench.tracking.tracking_server import server_status

    return server_status(workspace)


def register(server: WorkbenchServer) -> None:
    @request(server, REQUESTS["LIST_COMPUTE_TARGETS"], Trust.NETWORK)
    def list_compute_targets(
        ls: WorkbenchServer, params: ListComputeTargetsParams
    ) -> ListComputeTargetsResult:
        targets = list_targets(params["targets"])
        return {
            "targets": targets,
            "trackingServer": tracking_state(_workspace_server(workspace_of(params))),
        }

    @request(server, REQUESTS["START_LOCAL_CLUSTER"], Trust.EXECUTE, refused="start a Ray cluster")
    def start_local_cluster(
        ls: WorkbenchServer, params: StartLocalClusterParams
    ) -> ComputeTargetState:
        from mlworkbench.compute.ray_cluster import start_local_cluster

        workspace_of(params)  # a request from a folder this server serves
        cluster = start_local_cluster(num_cpus=params.get("numCpus"))
        return managed_state(cluster)

    @request(server, REQUESTS["STOP_LOCAL_CLUSTER"], Trust.EXECUTE, refused="stop a Ray cluster")
    def stop_local_cluster(ls: WorkbenchServer, params: NoParams) -> StopLocalClusterResult:
        from mlworkbench.compute.ray_cluster import stop_local_cluster

        return {"stopped": stop_local_cluster()}

    @request(
        server,
        REQUESTS["START_TRACKING_SERVER"],
        Trust.EXECUTE,
        refused="start a tracking server",
    )
    def start_tracking_server(
        ls: WorkbenchServer, params: TrackingServerParams
    ) -> TrackingServerState:
        from mlworkbench.tracking.tracking_server import start_server

        state = tracking_state(start_server(workspace_of(params)))
        assert state is not None
        return state

    @request(
        server,
        REQUESTS["STOP_TRACKING_SERVER"],
        Trust.EXECUTE,
        refused="stop a tracking server",
    )
    def stop_tracking_server(
        ls: WorkbenchServer, params: TrackingServerParams
    ) -> StopTrackingServerResult:
        from mlworkbench.tracking.tracking_server import stop_server

        return {"stopped": stop_server(workspace_of(params))}
