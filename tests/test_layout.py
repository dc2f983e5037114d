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


def test_data_flows_one_way():
    """Simulators -> task distributions -> trial rollout -> PPO -> the compiled step -> the host
    loop: no module of a stage (a package counts with its submodules) imports a later one."""
    order = ["trmrl_jax.physics", "trmrl_jax.envs", "trmrl_jax.rollout", "trmrl_jax.ppo",
             "trmrl_jax.step", "trmrl_jax.train"]

    def stage(module: str) -> int | None:
        return next((i for i, name in enumerate(order)
                     if module == name or module.startswith(name + ".")), None)

    graph = import_graph()
    assert {"trmrl_jax.physics.mjx", "trmrl_jax.physics.brax_pipeline"} <= set(graph)
    for module, deps in graph.items():
        if stage(module) is None:
            continue
        later = {dep for dep in deps if stage(dep) is not None and stage(dep) > stage(module)}
        assert not later, (module, later)
