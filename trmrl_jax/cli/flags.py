"""absl flags generated from ``Config``'s fields: one flag per field, never a hand-written copy.

A ``--preset`` picks the base config; flags given on the command line override its fields.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import os
import re
import sys
import tokenize
from typing import Callable

from absl import app, flags

from trmrl_jax import config as config_module
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

# Not Config fields either: where a run is reported changes nothing it computes.
_WANDB_PROJECT = flags.DEFINE_string(
    "wandb_project", "", "Also log to this Weights & Biases project (pip install -e \".[wandb]\"); "
    "'' logs to TensorBoard only. Process 0 logs.")
_WANDB_MODE = flags.DEFINE_string(
    "wandb_mode", "online", "online, offline (written under WORKDIR/wandb, no network; "
    "`wandb sync` uploads it later) or disabled.")


def wandb_logger(cfg: Config):
    """The ``WandbLogger`` the --wandb_* flags ask for, or None."""
    if not _WANDB_PROJECT.value:
        return None
    from trmrl_jax.tracking import WandbLogger

    return WandbLogger(cfg, _WANDB_PROJECT.value, _WANDB_MODE.value)


def _comments(source: str) -> tuple[dict[int, str], set[int]]:
    """{line: comment text} of every comment in ``source``, and the lines holding only one."""
    text, alone = {}, set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text[tok.start[0]] = tok.string.lstrip("#").strip()
            if not tok.line[:tok.start[1]].strip():
                alone.add(tok.start[0])
    return text, alone


def _docstring_fields(doc: str) -> dict[str, str]:
    """``name: text`` entries (with indented continuation lines) of a docstring's Fields list."""
    out: dict[str, str] = {}
    name = None
    for line in doc.split("Fields:", 1)[-1].splitlines() if "Fields:" in doc else []:
        if m := re.match(r"^ {4}(\w+): (.*)$", line):
            name, out[m[1]] = m[1], m[2]
        elif name and line.startswith(" " * 8):
            out[name] += " " + line.strip()
    return out


def field_docs() -> dict[str, str]:
    """Each Config field's meaning, read from ``trmrl_jax/config.py`` itself: the comment lines
    directly above the field (less a section heading, a comment line that follows a blank
    line) and the comment at the end of its line; else the field's entry in Config's
    docstring. Allowed values come from the field's rule in ``config.RULES``, the same words
    ``validate`` uses when it refuses a value."""
    source = inspect.getsource(config_module)
    lines = source.splitlines()
    text, alone = _comments(source)
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config")
    from_docstring = _docstring_fields(ast.get_docstring(cls) or "")
    docs = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above, k = [], node.lineno - 1
        while k in alone:
            above.insert(0, text[k])
            k -= 1
        if above and not lines[k - 1].strip():
            above = above[1:]  # A section heading ("# PPO."), not this field's meaning.
        own = above + ([text[node.lineno]] if node.lineno in text else [])
        doc = " ".join(own) or from_docstring.get(node.target.id, "")
        doc += f" Allowed: {config_module.RULES[node.target.id].describe()}."
        docs[node.target.id] = doc.strip()
    return docs


def define_config_flags() -> None:
    """One flag per Config field, its help the field's own documentation (``field_docs``)."""
    quiet_brax_import_noise()  # The env field's allowed values import the registry (Brax).
    docs = field_docs()
    for field in dataclasses.fields(Config):
        default, help_ = field.default, docs.get(field.name) or f"Config.{field.name}"
        if isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, help_)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, help_)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, help_)
        else:
            flags.DEFINE_string(field.name, default, help_)
    _show_in_help(__name__)


def _show_in_help(module: str) -> None:
    """--help lists the key flags of the main program (``sys.argv[0]``): make ``module``'s
    flags key flags of it, whichever script or ``-m`` shim started the command."""
    for flag in flags.FLAGS.flags_by_module_dict().get(module, []):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run_app(main: Callable[[list[str]], None], module: str, config_flags: bool = True) -> None:
    """Runs a CLI's ``main`` under absl with the flags of this file (and, with
    ``config_flags``, one per Config field) and those ``module`` defines, all shown by --help."""
    if config_flags:
        define_config_flags()
    _show_in_help(module)
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[_CACHE.name])
    # absl's --help prints the __main__ module's docstring: a shim's or a console script's.
    sys.modules["__main__"].__doc__ = sys.modules[module].__doc__
    app.run(main)


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


__all__ = ["DEFAULT_CACHE", "EXIT_STOPPED", "ConfigError", "config_from_flags",
           "define_config_flags", "fail", "host_key", "print_config", "print_meta_test",
           "quiet_brax_import_noise", "run_app", "start_process", "stopped",
           "use_compilation_cache"]
