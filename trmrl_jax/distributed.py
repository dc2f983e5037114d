"""Multi-process (multi-host) start-up on JAX's own distributed runtime.

One code path serves one process and many: the trainer always runs over a global 1-D device mesh
(``train.make_mesh``); with several processes, JAX's multi-controller runtime makes that mesh span
every process, and each process simulates only its own share of the tasks. ``initialize`` must run
before any other JAX call.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from trmrl_jax.config import Config, ConfigError

AXIS = "data"  # The mesh axis the batch of tasks is split over.

_CLUSTER_ENV = {  # Variables that tell JAX it can detect the cluster by itself.
    "SLURM": ("SLURM_JOB_ID", "SLURM_NTASKS"),
    "Open MPI": ("OMPI_COMM_WORLD_SIZE",),
    "TPU pod": ("TPU_WORKER_HOSTNAMES",),
}


def validate_cluster(cfg: Config) -> None:
    """Refuses inconsistent process settings (before JAX is touched)."""
    if cfg.num_processes < 0:
        raise ConfigError(f"num_processes={cfg.num_processes} must be >= 0 (0: detect or single)")
    if cfg.num_processes > 1 and not cfg.coordinator_address:
        raise ConfigError(f"num_processes={cfg.num_processes} needs --coordinator_address "
                          "(host:port of process 0)")
    if cfg.num_processes > 0 and not 0 <= cfg.process_id < cfg.num_processes:
        raise ConfigError(f"process_id={cfg.process_id} is outside [0, {cfg.num_processes})")
    if cfg.coordinator_address and cfg.num_processes == 0:
        raise ConfigError("coordinator_address is set but num_processes is not; give both")
    if cfg.coordinator_timeout_s <= 0:
        raise ConfigError(f"coordinator_timeout_s={cfg.coordinator_timeout_s} must be positive")


def detected_cluster() -> str | None:
    """The kind of cluster JAX can detect from the environment, if any (several processes only)."""
    for name, variables in _CLUSTER_ENV.items():
        if all(v in os.environ for v in variables):
            size = os.environ.get(variables[-1], "")
            if name != "SLURM" and name != "Open MPI" or (size.isdigit() and int(size) > 1):
                return name
    return None


class CoordinatorUnreachable(RuntimeError):
    """Process 0 of a multi-process run did not answer within ``coordinator_timeout_s``."""


def wait_for_coordinator(address: str, timeout_s: float) -> None:
    """Blocks until something accepts TCP connections at ``address`` (host:port), or raises.

    JAX's own client aborts the whole process (SIGABRT, no Python exception) when the coordinator
    does not answer in time, so processes other than 0 check reachability first.
    """
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError as e:
            if time.monotonic() >= deadline:
                raise CoordinatorUnreachable(
                    f"could not join the coordinator at {address} within {timeout_s:g} s "
                    f"({e.strerror or e}); is process 0 running?") from e
            time.sleep(0.2)


def initialize(cfg: Config) -> None:
    """Starts the distributed runtime when the config or the environment asks for several
    processes; otherwise does nothing (single process). Fails with a clear error, never hangs,
    when the coordinator does not answer within ``coordinator_timeout_s``."""
    validate_cluster(cfg)
    if jax.distributed.is_initialized():
        return
    # The host loop agrees on the update at which to stop after SIGTERM/SIGINT itself
    # (``process_values``), for one process and many alike; JAX's preemption service would
    # install a SIGTERM handler of its own in C++, which the loop's would replace.
    jax.config.update("jax_enable_preemption_service", False)
    # CPU collectives across processes go through gloo; GPU and TPU ignore this setting.
    if cfg.num_processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if cfg.process_id > 0:
            wait_for_coordinator(cfg.coordinator_address, cfg.coordinator_timeout_s)
        # Past this point a peer that never registers makes JAX abort the process after
        # coordinator_timeout_s with DEADLINE_EXCEEDED: bounded, never a hang.
        jax.distributed.initialize(
            coordinator_address=cfg.coordinator_address, num_processes=cfg.num_processes,
            process_id=cfg.process_id, initialization_timeout=cfg.coordinator_timeout_s)
    elif cfg.num_processes == 0 and detected_cluster():
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(initialization_timeout=cfg.coordinator_timeout_s)


def is_primary() -> bool:
    """Process 0 alone writes logs, evaluation results and plots."""
    return jax.process_index() == 0


def process_values(value: int) -> list[int]:
    """``value`` of every process, in process order. A collective: every process must call it at
    the same point of the program (the host loop does, between updates)."""
    if jax.process_count() == 1:
        return [value]
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(np.asarray(value, np.int32))
    return [int(v) for v in np.asarray(gathered)]


def barrier(name: str) -> None:
    """Waits until every process reaches ``name`` (nothing to wait for with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D ``data`` mesh over the first ``num_devices`` devices (0: all, over all processes)."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise ConfigError(f"num_devices={num_devices} but only {len(devices)} devices exist; "
                              f"use 0 (all) or at most {len(devices)}")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (AXIS,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places ``tree`` replicated on every device of ``mesh`` (over all processes, each giving
    the same host value): the layout the step returns, so every call shares one compilation."""
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree)
