"""The persistent XLA compilation cache of the CLIs (``--compilation_cache``), in a subfolder
per host (CPU model and features, jax and jaxlib versions), so hosts sharing a folder never load
each other's executables.
"""

from __future__ import annotations

import json
import os

from absl import flags

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "trmrl_jax", "xla")
# Not a Config field: where compiled programs are kept changes nothing a run computes.
CACHE = flags.DEFINE_string(
    "compilation_cache", "auto",
    "Persistent XLA compilation cache of train, evaluate and compare (a resumed or repeated run "
    f"skips compiling). 'auto': {DEFAULT_CACHE} on GPU and TPU, off on CPU (there JAX 0.9.2 logs "
    "error lines for every program it loads; BUILD.md, 'Faults a batch job meets'); a folder: "
    "that folder, on any platform; '': off. Entries go into a subfolder named by a hash of the "
    "host's CPU model and features and the jax and jaxlib versions, so hosts sharing the folder "
    "never load each other's executables. The benchmark always compiles afresh.")


def host_key(cpuinfo: str | None = None) -> str:
    """A hash of what an XLA executable compiled here depends on besides its program and device
    (which JAX's own cache key holds): the CPU's model and feature flags, as the first processor
    of ``/proc/cpuinfo`` (or ``cpuinfo``) lists them, and the jax and jaxlib versions. Without
    ``/proc/cpuinfo`` it names the host itself."""
    import hashlib
    import platform

    import jax
    import jaxlib

    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = f"host: {platform.node()}"
    fields = {}
    for line in cpuinfo.split("\n\n")[0].splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name in ("flags", "Features"):  # Order-free sets of CPU features (x86, Arm).
            value = " ".join(sorted(value.split()))
        if name in ("vendor_id", "cpu family", "model", "model name", "flags", "Features",
                    "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "host"):
            fields[name] = value.strip()
    text = json.dumps([platform.machine(), fields, jax.__version__, jaxlib.__version__])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def use_compilation_cache() -> None:
    """Turns on the persistent compilation cache as ``--compilation_cache`` says, in the host's
    own subfolder. Initialises JAX's backends (to tell CPU from GPU/TPU for 'auto'), so a
    multi-process run calls it after ``distributed.initialize``."""
    import jax

    base = CACHE.value
    if base == "auto":
        base = "" if jax.default_backend() == "cpu" else DEFAULT_CACHE
    if not base:
        return
    folder = os.path.join(os.path.expanduser(base), host_key())
    jax.config.update("jax_compilation_cache_dir", folder)
    # Every program, not only those over JAX's 1 s default: which ones get cached must not
    # depend on how busy the machine was while compiling.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
