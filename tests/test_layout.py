"""The package's modules import each other in one direction: no cycle, not even through an
import hidden inside a function."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "trmrl_jax")


def _module(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def import_graph() -> dict[str, set[str]]:
    """module -> the trmrl_jax modules it imports anywhere in its file (a package import counts
    as an import of its ``__init__``)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                modules[_module(os.path.join(folder, name))] = os.path.join(folder, name)
    graph = {}
    for module, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
                deps |= {n for n in names if n in modules} or {node.module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[module] = {d for d in deps if d in modules and d != module}
    return graph


def test_no_import_cycle():
    graph = import_graph()
    assert "trmrl_jax.train" in graph and "trmrl_jax.step" in graph
    state: dict[str, int] = {}  # 1: on the current path, 2: done.

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            assert state.get(dep) != 1, " -> ".join(path + [module, dep])
            if dep not in state:
                visit(dep, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def _stage(module: str, stages: list[str]) -> int | None:
    """The index of the stage ``module`` belongs to (a stage is a module or a package)."""
    for i, stage in enumerate(stages):
        if module == stage or module.startswith(stage + "."):
            return i
    return None


def test_data_flows_one_way():
    """Simulators -> task distributions -> trial rollout -> learners -> the compiled step -> the
    meta-test -> the run folder -> the host loop: no module of a stage (a package counts with its
    submodules) imports one of a later stage."""
    stages = ["trmrl_jax.physics", "trmrl_jax.envs", "trmrl_jax.rollout", "trmrl_jax.learners",
              "trmrl_jax.step", "trmrl_jax.evaluate", "trmrl_jax.workdir", "trmrl_jax.train"]
    graph = import_graph()
    assert {"trmrl_jax.physics.mjx", "trmrl_jax.learners.ppo.learner"} <= set(graph)
    assert all(any(_stage(m, stages) == i for m in graph) for i in range(len(stages)))
    for module, deps in graph.items():
        here = _stage(module, stages)
        if here is None:
            continue
        later = {d for d in deps if _stage(d, stages) is not None and _stage(d, stages) > here}
        assert not later, (module, later)


def test_every_module_is_short():
    """A module a newcomer reads in one sitting: under 400 lines."""
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                assert sum(1 for _ in open(path)) < 400, os.path.relpath(path, ROOT)
