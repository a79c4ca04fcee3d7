"""What the workbench's local Ray cluster exposes: loopback listeners only, gRPC behind its token.

Ray swaps `--node-ip-address=127.0.0.1` for the machine's reachable address and then binds its
gRPC servers to every interface and its Prometheus servers (no authentication) to that address;
`ray_cluster` keeps the node on the loopback. This reads every listening TCP socket of the
cluster's processes from /proc (no tool beyond the kernel's own tables) and calls the GCS with
and without the token. The session's one real cluster (`ray_cluster_support`; slow), on which
other modules may have run jobs before: its processes must listen on the loopback all the same.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlworkbench.compute import ray_cluster

if TYPE_CHECKING:
    from ray_cluster_support import SharedCluster

pytest_plugins = ["ray_cluster_support"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(shared_ray_cluster: SharedCluster) -> ray_cluster.ClusterInfo:
    return shared_ray_cluster.info


def _listening_sockets() -> dict[int, list[tuple[str, int]]]:
    """Socket inode -> (address, port) of every listening TCP socket (IPv4 and IPv6)."""
    found: dict[int, list[tuple[str, int]]] = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A":  # TCP_LISTEN
                continue
            hex_address, hex_port = local.split(":")
            raw = bytes.fromhex(hex_address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            address = ipaddress.ip_address(packed)
            found.setdefault(inode, []).append((str(address), int(hex_port, 16)))
    return found


def _cluster_listeners(pgid: int) -> list[tuple[str, int, str]]:
    """(address, port, process name) of every socket the cluster's process group listens on."""
    sockets = _listening_sockets()
    listeners = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            name = (entry / "comm").read_text().strip()
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue  # ended while we looked
        for link in links:
            if link.startswith("socket:["):
                for address, port in sockets.get(int(link[8:-1]), []):
                    listeners.append((address, port, name))
    return listeners


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_every_server_of_the_cluster_listens_on_the_loopback_only(
    cluster: ray_cluster.ClusterInfo,
) -> None:
    listeners = _cluster_listeners(cluster.pgid)
    names = {name for _, _, name in listeners}
    # The GCS, the raylet and the dashboard at least: the check saw the cluster's servers.
    assert {"gcs_server", "raylet"} <= names, listeners
    assert len(listeners) >= 5, listeners
    exposed = [item for item in listeners if not _is_loopback(item[0])]
    assert exposed == [], f"listening beyond the loopback: {exposed}"
    assert cluster.gcs_address.startswith("127.0.0.1:")


def test_the_gcs_refuses_calls_without_the_clusters_token(
    cluster: ray_cluster.ClusterInfo,
) -> None:
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    assert cluster.token_file is not None
    token = Path(cluster.token_file).read_text().strip()
    request = gcs_service_pb2.GetAllNodeInfoRequest()
    with grpc.insecure_channel(cluster.gcs_address) as channel:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        for metadata in ([], [("authorization", "Bearer not-the-token")]):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetAllNodeInfo(request, timeout=10, metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.GetAllNodeInfo(
            request, timeout=10, metadata=[("authorization", f"Bearer {token}")]
        )
    assert len(answer.node_info_list) == 1  # the same call with the token: the one node
