"""The install surface: console scripts, what gets installed, ranges against the pinned versions."""

import ast
import configparser
import importlib.util
import os
import re
import subprocess
import sys

from packaging.requirements import Requirement
from setuptools import find_packages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    return cfg


def requirements(text: str) -> list[Requirement]:
    return [Requirement(line) for line in text.splitlines() if line.strip()]


def test_console_scripts_start_their_commands():
    """Each console script's target, called as the installed script calls it, answers --help."""
    entry_points = setup_cfg()["options.entry_points"]["console_scripts"]
    scripts = dict(re.findall(r"(\S+) = (\S+)", entry_points))
    assert set(scripts) == {"trmrl-train", "trmrl-evaluate", "trmrl-compare", "trmrl-visualize"}
    for name, target in scripts.items():
        module, function = target.split(":")
        code = (f"import sys; sys.argv = [{name!r}, '--help']; "
                f"from {module} import {function}; {function}()")
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
        source = open(importlib.util.find_spec(module).origin).read()
        usage = ast.get_docstring(ast.parse(source)).splitlines()[0]
        # absl prints the command's docstring and its flags, and exits.
        assert proc.stdout.startswith(usage) and "--workdir:" in proc.stdout, name


def test_experiments_is_not_installed_as_a_top_level_package():
    include = setup_cfg()["options.packages.find"]["include"].split(",")
    packages = find_packages(ROOT, include=[p.strip() for p in include])
    assert "trmrl_jax.cli" in packages and "trmrl_jax" in packages
    assert not [p for p in packages if p.split(".")[0] != "trmrl_jax"], packages


def test_every_pinned_version_lies_in_the_declared_range():
    """constraints.txt (what CI installs) satisfies setup.cfg's ranges, and pins each of them."""
    pins = {}
    for line in open(os.path.join(ROOT, "constraints.txt")):
        if line.split("#")[0].strip():
            req = Requirement(line.split("#")[0].strip())
            pins[req.name] = next(iter(req.specifier)).version
    cfg = setup_cfg()
    declared = requirements(cfg["options"]["install_requires"])
    declared += requirements(cfg["options.extras_require"]["dev"])
    for req in declared:
        assert req.name in pins, f"{req.name} has no exact version in constraints.txt"
        assert req.specifier.contains(pins[req.name]), (req, pins[req.name])
    for extra in ("cuda12", "tpu"):
        (jax,) = requirements(cfg["options.extras_require"][extra])
        assert jax.name == "jax" and extra in jax.extras and jax.specifier.contains(pins["jax"])
