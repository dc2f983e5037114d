"""absl flags generated from ``Config``'s fields: one flag per field, never a hand-written copy.

A ``--preset`` picks the base config; flags given on the command line override its fields.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from absl import flags

from trmrl_jax.config import PRESETS, Config, ConfigError, for_env, preset

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "trmrl_jax", "xla")
_PRESET = flags.DEFINE_string(
    "preset", None, f"Base config: one of {', '.join(PRESETS)}. Without it, --env=NAME starts "
    "from NAME's own preset (its episode length and settings), and no flag from the defaults.")
# Not a Config field: where compiled programs are kept changes nothing a run computes.
_CACHE = flags.DEFINE_string(
    "compilation_cache", "auto",
    "Persistent XLA compilation cache of train, evaluate and compare (a resumed or repeated run "
    f"skips compiling). 'auto': {DEFAULT_CACHE} on GPU and TPU, off on CPU (there JAX 0.9.2 logs "
    "error lines for every program it loads; BUILD.md, 'Faults a batch job meets'); a folder: "
    "that folder, on any platform; '': off. Entries go into a subfolder named by a hash of the "
    "host's CPU model and features and the jax and jaxlib versions, so hosts sharing the folder "
    "never load each other's executables. The benchmark always compiles afresh.")

# Exit status of a run stopped by SIGTERM or SIGINT after checkpointing (sysexits.h EX_TEMPFAIL:
# "try again later"): running the same command continues it.
EXIT_STOPPED = 75


def define_config_flags() -> None:
    for field in dataclasses.fields(Config):
        default, help_ = field.default, f"Config.{field.name}"
        if isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, help_)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, help_)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, help_)
        else:
            flags.DEFINE_string(field.name, default, help_)


def config_from_flags() -> Config:
    """The base config with every flag set on the command line applied. The base is --preset, else
    the preset of the distribution named by --env, else the defaults."""
    if _PRESET.value:
        base = preset(_PRESET.value)
    elif flags.FLAGS["env"].present:
        base = for_env(flags.FLAGS["env"].value)
    else:
        base = Config()
    changes = {f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(Config)
               if flags.FLAGS[f.name].present}
    return base.replace(**changes)


def fail(error: Exception) -> None:
    """One line on stderr and exit status 2: the user's input was refused."""
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


def stopped(error: Exception) -> None:
    """One line on stderr and exit status ``EXIT_STOPPED``: a signal stopped the run after a
    checkpoint; the same command continues it."""
    print(error, file=sys.stderr)
    sys.exit(EXIT_STOPPED)


def print_config(cfg: Config) -> None:
    """The effective configuration, every field, as ``name=value`` lines of at most 100 columns."""
    import textwrap

    items = " ".join(f"{k}={v}" for k, v in cfg.to_dict().items())
    print("config: " + textwrap.fill(items, 100, subsequent_indent="  ", break_on_hyphens=False))


def print_meta_test(results: dict) -> None:
    """One line per split of an ``eval.json``-style dict: the mean return of each episode."""
    for split in ("train", "test", "ood"):
        if split in results:
            curve = ", ".join(f"{r:.2f}" for r in results[split]["returns_per_episode"])
            print(f"meta-test {split:5s} return per episode: {curve}")


def start_process() -> None:
    """What every training CLI does first: quiet imports."""
    quiet_brax_import_noise()


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

    base = _CACHE.value
    if base == "auto":
        base = "" if jax.default_backend() == "cpu" else DEFAULT_CACHE
    if not base:
        return
    folder = os.path.join(os.path.expanduser(base), host_key())
    jax.config.update("jax_compilation_cache_dir", folder)
    # Every program, not only those over JAX's 1 s default: which ones get cached must not
    # depend on how busy the machine was while compiling.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def quiet_brax_import_noise() -> None:
    """Brax prints 'Failed to import warp' on import and warns that it is unmaintained; MuJoCo
    warns of deprecations; JAX logs that it found no TPU. None of it helps a user: hide it."""
    import contextlib
    import io
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*not actively being maintained.*")
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import brax.envs  # noqa: F401


__all__ = ["DEFAULT_CACHE", "EXIT_STOPPED", "ConfigError", "config_from_flags",
           "define_config_flags", "fail", "host_key", "print_config", "print_meta_test",
           "quiet_brax_import_noise", "start_process", "stopped", "use_compilation_cache"]
