"""A local Cassandra cluster of 1 to 5 embedded nodes, on 127.0.0.1 .. 127.0.0.N.

Every 127.x address is the loopback interface, so the nodes share the CQL port and the storage
port on different addresses. Each node has its own data directory, yaml, pid file and log under
``.data/cassandra/cluster/nodeK`` and a token of its own (the ring split evenly); node 1 is the
seed. One node is the plain development server of ``.data/cassandra`` (``app/devservers/cassandra.py``).
Point the service at a cluster with ``CASSANDRA_HOSTS=127.0.0.1,127.0.0.2,127.0.0.3`` and a
replication factor of 3 (``CASSANDRA_REPLICATION``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from app.devservers.cassandra import PROTOCOL_VERSION, EmbeddedCassandra, EmbeddedCassandraError, Log

MAX_NODES = 5
RING = 2 ** 64


def node_address(index: int) -> str:
    """The address of node ``index`` (1-based)."""
    return f"127.0.0.{index}"


def node_token(index: int, nodes: int) -> int:
    """Evenly spaced Murmur3 tokens: node 1 of 3 gets -2^63, node 2 -2^63 + 2^64/3, ..."""
    return -(2 ** 63) + (index - 1) * RING // nodes


@dataclass
class EmbeddedCluster:
    nodes: int = 1
    port: int = 9042
    storage_port: int = 7000
    data_dir: Path = Path(".data/cassandra")
    cache_dir: Path = Path(".cache")
    heap_mb: int = 512
    jit: str = "quick"

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, int) or not 1 <= self.nodes <= MAX_NODES:
            raise ValueError(f"nodes must be an integer from 1 to {MAX_NODES}, but {self.nodes!r} is given")
        self.data_dir = Path(self.data_dir)

    def members(self, nodes: Optional[int] = None) -> List[EmbeddedCassandra]:
        """The nodes of a cluster of ``nodes`` (default: this one's size)."""
        nodes = nodes or self.nodes
        if nodes == 1:
            return [EmbeddedCassandra(port=self.port, storage_port=self.storage_port, data_dir=self.data_dir,
                                      cache_dir=self.cache_dir, heap_mb=self.heap_mb, jit=self.jit)]
        return [EmbeddedCassandra(port=self.port, storage_port=self.storage_port,
                                  data_dir=self.data_dir / "cluster" / f"node{index}", cache_dir=self.cache_dir,
                                  heap_mb=self.heap_mb, jit=self.jit, host=node_address(index), seeds=node_address(1),
                                  initial_token=node_token(index, nodes))
                for index in range(1, nodes + 1)]

    def every_node(self) -> List[EmbeddedCassandra]:
        """The single server and every possible cluster node: what stop and status look at."""
        return self.members(1) + self.members(MAX_NODES)

    def start(self, wait_s: float = 180, watch_pid: Optional[int] = None, log: Log = print) -> List[int]:
        """Start the nodes one after another; return their pids once each answers CQL and the ring
        shows every node."""
        mine = {node.data_dir for node in self.members()}
        others = [node for node in self.every_node() if node.data_dir not in mine and node.status()["running"]]
        if others:
            raise EmbeddedCassandraError(
                f"another embedded Cassandra runs ({others[0].host}, data in {others[0].data_dir}): "
                "stop it first with `slotbandit cassandra stop`")
        deadline = time.monotonic() + wait_s
        pids = [node.start(wait_s=max(1.0, deadline - time.monotonic()), watch_pid=watch_pid, log=log)
                for node in self.members()]
        if self.nodes > 1:
            self._wait_for_ring(deadline, log)
        return pids

    def stop(self, log: Log = print) -> int:
        """Stop every embedded node that runs (single or cluster); how many were running."""
        return sum(node.stop(log=log) for node in self.every_node())

    def status(self) -> List[dict]:
        """One status per node that runs (or the single server's, stopped, when none does)."""
        statuses = [node.status() for node in self.every_node()]
        return [status for status in statuses if status["running"]] or statuses[:1]

    def _wait_for_ring(self, deadline: float, log: Log) -> None:
        from app.storage.db import ring_size

        while True:
            sizes = [ring_size(node.host, node.port, PROTOCOL_VERSION) for node in self.members()]
            if all(size == self.nodes for size in sizes):
                log(f"ring of {self.nodes} nodes ready")
                return
            if time.monotonic() > deadline:
                raise EmbeddedCassandraError(f"the nodes did not see each other in time (ring sizes {sizes}); "
                                             f"see the logs under {self.data_dir / 'cluster'}")
            time.sleep(0.5)
