"""What the CLIs print and how they exit: one-line refusals (status 2), a stopped run (status
``EXIT_STOPPED``), the effective config, the meta-test's curves, and no import noise.
"""

from __future__ import annotations

import sys

from trmrl_jax.config import Config

# Exit status of a run stopped by SIGTERM or SIGINT after checkpointing (sysexits.h EX_TEMPFAIL:
# "try again later"): running the same command continues it.
EXIT_STOPPED = 75

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
    """One line per split of an ``eval.json``-style dict: the mean return of each episode, and
    its success rate where the distribution reports success."""
    for split in ("train", "test", "ood"):
        if split in results:
            curve = ", ".join(f"{r:.2f}" for r in results[split]["returns_per_episode"])
            print(f"meta-test {split:5s} return per episode: {curve}")
            if "success_per_episode" in results[split]:
                rates = ", ".join(f"{r:.2f}" for r in results[split]["success_per_episode"])
                print(f"meta-test {split:5s} success per episode: {rates}")


def start_process() -> None:
    """What every training CLI does first: quiet imports."""
    quiet_brax_import_noise()


def quiet_brax_import_noise() -> None:
    """Brax prints 'Failed to import warp' on import and warns that it is unmaintained; MuJoCo
    warns of deprecations; JAX logs that it found no TPU; PyOpenGL (MuJoCo's EGL renderer) logs
    that it has no accelerate module. None of it helps a user: hide it."""
    import contextlib
    import io
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*not actively being maintained.*")
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import brax.envs  # noqa: F401
