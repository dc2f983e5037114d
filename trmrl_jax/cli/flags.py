"""absl flags generated from ``Config``'s fields: one flag per field, never a hand-written copy.

A ``--preset`` picks the base config; flags given on the command line override its fields.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import sys
import tokenize
from typing import Callable

from absl import app, flags

from trmrl_jax import config as config_module
from trmrl_jax.cli.cache import CACHE
from trmrl_jax.cli.output import quiet_brax_import_noise
from trmrl_jax.config import Config
from trmrl_jax.presets import PRESETS, for_env, preset

_PRESET = flags.DEFINE_string(
    "preset", None, f"Base config: one of {', '.join(PRESETS)}. Without it, --env=NAME starts "
    "from NAME's own preset (its episode length and settings), and no flag from the defaults.")
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
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[CACHE.name])
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
