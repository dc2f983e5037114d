"""Train several agents (or TrMRL window sizes) on the same distribution, budget and seeds,
meta-test each, and write the results tables and the figures.

    python -m experiments.compare --preset=quickstart --agents=trmrl,rl2,mlp,oracle --seeds=3 \
        --workdir=runs/compare_point_nav
    python -m experiments.compare --preset=quickstart --agents=trmrl --windows=5,20,60 \
        --workdir=runs/ablation_window
    python -m experiments.compare --preset=quickstart --agents=trmrl,oracle \
        --per_agent=oracle.ent_coef=0.01 --workdir=runs/compare_oracle

Seeds of one agent run vmapped in one compiled program. Writes into --workdir: one run folder per
variant, results.json, results.md (the tables, with the command), adaptation.png (test and OOD
curves of every variant), success.png (the same of the success rate, where the distribution
reports success, as Meta-World's), reward_per_step.png (mean reward at every step of the trial,
with its interval over seeds) and learning_curves.png (meta-test return against env steps, mean
and spread over seeds).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import sys

import numpy as np
from absl import flags

from trmrl_jax.cli import cache, output
from trmrl_jax.cli import flags as cli
from trmrl_jax.stats import adapts_and_holds, bootstrap_interval, summarize_seeds

_AGENTS = flags.DEFINE_list(
    "agents", ["trmrl", "rl2", "mlp", "oracle"],
    "Agents to compare: trmrl (transformer episodic memory), rl2 (GRU memory), maml (an MLP "
    "adapted by policy-gradient steps between episodes), pearl (SAC with a posterior over a "
    "latent task variable), mlp (no memory), oracle (an MLP told the task: the upper bound).")
_MATCH = flags.DEFINE_boolean(
    "match_params", True, "Give mlp and oracle the width whose parameter count is nearest "
    "TrMRL's (unless --mlp_hidden is set).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Independent seeds per agent (vmapped).")
_WINDOWS = flags.DEFINE_list("windows", [], "TrMRL window sizes N: a sequence-length ablation.")
_CURVE_POINTS = flags.DEFINE_integer("curve_points", 10, "Meta-tests during training per run.")
_PER_AGENT = flags.DEFINE_list(
    "per_agent", [], "Settings of one agent only, AGENT.FIELD=VALUE (e.g. "
    "oracle.ent_coef=0.01): an agent that needs its own exploration or schedule; every other "
    "flag applies to all agents alike.")


def per_agent(entries: list[str], agents: list[str]) -> dict[str, dict]:
    """``AGENT.FIELD=VALUE`` entries -> {agent: {field: value}}, each value parsed as its
    Config field's type."""
    from trmrl_jax.config import Config, ConfigError

    defaults = {f.name: f.default for f in dataclasses.fields(Config)
                if f.name not in ("agent", "workdir", "num_seeds", "eval_every")}
    out: dict[str, dict] = {}
    for entry in entries:
        match = re.fullmatch(r"(\w+)\.(\w+)=(.+)", entry)
        if not match:
            raise ConfigError(f"--per_agent={entry!r} is not AGENT.FIELD=VALUE "
                              "(e.g. oracle.ent_coef=0.01)")
        agent, field, text = match.groups()
        if agent not in agents:
            raise ConfigError(f"--per_agent={entry!r} names agent {agent!r}, which is not in "
                              f"--agents ({', '.join(agents)})")
        if field not in defaults:
            raise ConfigError(f"--per_agent={entry!r}: {field!r} is not a setting of one "
                              "agent; choose a flag of --help other than --agent, --workdir, "
                              "--num_seeds and --eval_every (compare sets those)")
        out.setdefault(agent, {})[field] = _parse(text, defaults[field], entry)
    return out


def _parse(text: str, default, entry: str):
    """``text`` as a value of ``default``'s type (bool, int, float or str)."""
    from trmrl_jax.config import ConfigError

    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"--per_agent={entry!r}: {text!r} is not true or false")
        return text.lower() == "true"
    try:
        return type(default)(text)
    except ValueError:
        raise ConfigError(f"--per_agent={entry!r}: {text!r} is not a "
                          f"{type(default).__name__}") from None


def variants(base, agents: list[str], windows: list[str], own: dict[str, dict]) -> dict:
    """Name -> config of every run of the comparison; ``own``: each agent's own settings
    (``per_agent``)."""
    from trmrl_jax.config import ConfigError

    if windows:
        if agents != ["trmrl"]:
            raise ConfigError(f"--windows is a TrMRL ablation; use --agents=trmrl, not {agents}")
        if "window" in own.get("trmrl", {}):
            raise ConfigError("--per_agent=trmrl.window=... contradicts --windows; give one")
        return {f"trmrl_N{n}": base.replace(window=int(n), **own.get("trmrl", {}))
                for n in windows}
    return {a: base.replace(agent=a, **own.get(a, {})) for a in agents}


def matched(runs: dict, env) -> dict:
    """``runs`` with the ``mlp_hidden`` of mlp and oracle (``PARAM_MATCHED``) matched to
    TrMRL's parameter count (runs that set ``mlp_hidden`` keep it)."""
    from trmrl_jax.learners import PARAM_MATCHED, matched_mlp_hidden

    return {name: cfg.replace(mlp_hidden=matched_mlp_hidden(cfg, env))
            if cfg.agent in PARAM_MATCHED and not cfg.mlp_hidden else cfg
            for name, cfg in runs.items()}


def training_seconds(rows: list[dict]) -> float:
    """Wall time a run spent training (compilation and meta-tests during training included),
    read from its metrics.jsonl rows, so that it survives a run resumed in several launches or
    meta-tested again later. ``time_s`` restarts at each launch, whose first row carries
    ``compile_s``: the total is the sum of each launch's last ``time_s``."""
    total, last = 0.0, 0.0
    for row in rows:
        if "compile_s" in row or row["time_s"] < last:
            total += last
        last = row["time_s"]
    return total + last


def over_seeds(ev: dict, per_seed: list[dict], split: str, name: str
               ) -> tuple[dict, np.ndarray]:
    """``name`` (``returns`` or ``success``) of ``split`` in an ``eval.json``: its mean over
    seeds with the 95 % interval (``summarize_seeds``), and the per-seed curves [S, K]. With one
    seed the standard error is the run's own, over tasks: one seed gives no spread."""
    curves = np.asarray([r[split][f"{name}_per_episode"] for r in per_seed])
    out = summarize_seeds(curves, name)
    if len(curves) == 1:
        out[f"{name}_se_per_episode"] = ev[split][f"{name}_se_per_episode"]
    return out, curves


def summarize_run(workdir: str) -> dict:
    with open(os.path.join(workdir, "eval.json")) as f:
        ev = json.load(f)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    per_seed = ev.get("per_seed", [ev])
    out = {"env_steps": ev["env_steps"], "train_time_s": training_seconds(rows),
           "num_seeds": len(per_seed)}
    for split in ("train", "test", "ood"):
        if split not in ev:
            continue
        out[split], curves = over_seeds(ev, per_seed, split, "returns")
        out[split]["se_over"] = "seeds" if len(curves) > 1 else "tasks"
        out[split]["per_seed"] = curves.tolist()
        if "success_per_episode" in ev[split]:
            success, rates = over_seeds(ev, per_seed, split, "success")
            out[split].update(success, success_per_seed=rates.tolist())
        out[split]["reward_per_step"] = ev[split]["reward_per_step"]  # Pooled over seeds.
        steps = np.asarray([r[split]["reward_per_step"] for r in per_seed])  # [S, T]
        out[split]["reward_per_step_ci95"] = [b.tolist() for b in bootstrap_interval(steps)]
        out[split]["adapt_and_hold"] = [
            adapts_and_holds(r[split]["returns_per_episode"], r[split]["returns_se_per_episode"])
            for r in per_seed]
    out["learning_curve"] = [{"env_steps": r["env_steps"], "test_return_per_seed":
                              r["eval_test_return_per_seed"]}
                             for r in rows if "eval_test_return_per_seed" in r]
    return out


def cells(record: dict, name: str) -> str:
    """``mean [low, high]`` of each episode of ``name`` (``returns`` or ``success``)."""
    low, high = record[f"{name}_ci95_per_episode"]
    return " | ".join(f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                      zip(record[f"{name}_per_episode"], low, high))


def markdown(results: dict, command: str, physics: str | None = None) -> str:
    """The results tables: one per split, the mean over seeds of each episode with its 95 %
    bootstrap interval over seeds, and how many seeds adapt and hold (``adapts_and_holds``);
    where the runs report success, a second table per split of the success rate per episode
    (the fraction of tasks whose episode succeeded), with its interval over seeds.
    ``physics``: the simulator the runs used, named above the tables."""
    out = [f"Command: `{command}`", ""] + ([f"Physics: {physics}", ""] if physics else [])
    for split in ("test", "ood", "train"):
        rows = {name: r[split] for name, r in results.items() if split in r}
        if not rows:
            continue
        episodes = max(len(r["returns_per_episode"]) for r in rows.values())
        head = " | ".join(f"ep {i + 1}" for i in range(episodes))
        out += [f"{split} tasks (mean over seeds [95 % interval]):", "",
                f"| run | {head} | adapt and hold | params | env steps | seeds | train s |",
                "|---|" + "---|" * (episodes + 5)]
        for name, r in rows.items():
            res = results[name]
            out.append(f"| {name} | {cells(r, 'returns')} | {sum(r['adapt_and_hold'])} of "
                       f"{len(r['adapt_and_hold'])} | {res['num_params']:,} | "
                       f"{res['env_steps']:,} | {res['num_seeds']} | "
                       f"{res['train_time_s']:.0f} |")
        out.append("")
        rates = {name: r for name, r in rows.items() if "success_per_episode" in r}
        if rates:
            out += [f"{split} tasks, success rate per episode (mean over seeds [95 % "
                    "interval]):", "", f"| run | {head} | seeds |",
                    "|---|" + "---|" * (episodes + 1)]
            out += [f"| {name} | {cells(r, 'success')} | {results[name]['num_seeds']} |"
                    for name, r in rates.items()]
            out.append("")
    return "\n".join(out)


def plot(results: dict, runs: dict, root: str, title: str) -> list[str]:
    """adaptation.png (test and OOD curves of every variant, with the random-action level),
    success.png (the same of the success rate, where the runs report it), reward_per_step.png
    (the mean reward at every step of the trial) and learning_curves.png (training and
    meta-test return against env steps). Returns the names of the figures written."""
    from trmrl_jax.plots import plot_adaptation, plot_learning_curves, plot_reward_per_step

    first = next(iter(runs.values()))
    with open(os.path.join(first.workdir, "eval.json")) as f:
        reference = json.load(f).get("reference", {})  # Same tasks for every variant.
    curves = {name: {s: r[s] for s in ("test", "ood") if s in r} for name, r in results.items()}
    plot_adaptation(curves, os.path.join(root, "adaptation.png"), title,
                    {f"{name} actions": levels for name, levels in reference.items()})
    written = ["adaptation.png"]
    if any("success_per_episode" in r for c in curves.values() for r in c.values()):
        plot_adaptation(curves, os.path.join(root, "success.png"), title, metric="success")
        written.append("success.png")
    plot_reward_per_step(curves, first.episode_length,
                         os.path.join(root, "reward_per_step.png"), title)
    rows = {}
    for name, cfg in runs.items():
        with open(os.path.join(cfg.workdir, "metrics.jsonl")) as f:
            rows[name] = [json.loads(line) for line in f if line.strip()]
    plot_learning_curves(rows, os.path.join(root, "learning_curves.png"), title)
    return written + ["reward_per_step.png", "learning_curves.png"]


def main(argv: list[str]) -> None:
    output.start_process()
    from trmrl_jax.config import ConfigError, validate
    from trmrl_jax.distributed import CoordinatorUnreachable, initialize
    from trmrl_jax.faults import PhysicsFault
    from trmrl_jax.train import TrainingDiverged, TrainingStopped, train

    try:
        base = cli.config_from_flags()
        if _SEEDS.value <= 0 or _CURVE_POINTS.value <= 0:
            raise ConfigError("--seeds and --curve_points must be positive integers")
        if flags.FLAGS["eval_every"].present:
            raise ConfigError(f"--eval_every={base.eval_every}: compare meta-tests each run "
                              "--curve_points times (every num_updates // curve_points "
                              "updates); set --curve_points instead")
        root = base.workdir
        runs = variants(base, _AGENTS.value, _WINDOWS.value,
                        per_agent(_PER_AGENT.value, _AGENTS.value))
        runs = {name: cfg.replace(num_seeds=_SEEDS.value, workdir=os.path.join(root, name),
                                  eval_every=max(1, cfg.num_updates // _CURVE_POINTS.value))
                for name, cfg in runs.items()}
        for cfg in runs.values():
            validate(cfg)
        initialize(base)  # Joins the other processes; the platform (for the cache) is then known.
    except (ConfigError, CoordinatorUnreachable) as e:
        output.fail(e)
    cache.use_compilation_cache()
    from trmrl_jax import envs
    from trmrl_jax.learners import make_learner

    env = envs.make(base.env, backend=base.backend)
    physics = env.backend  # None without physics.
    if _MATCH.value:
        runs = matched(runs, env)
    results = {}
    for name, cfg in runs.items():
        try:
            train(cfg)
        except TrainingStopped as e:  # The same command continues this run and does the rest.
            output.stopped(e)
        except (ConfigError, TrainingDiverged, PhysicsFault) as e:  # E.g. a checkpoint of
            output.fail(e)  # another version, or a run that cannot go on.
        results[name] = dict(summarize_run(cfg.workdir),
                             num_params=make_learner(cfg, env).num_params())
        print(f"{name}: test {np.round(results[name]['test']['returns_per_episode'], 2)}")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "results.json"), "w") as f:
        json.dump({"env": base.env, "backend": physics, "results": results}, f, indent=2)
    figures = plot(results, runs, root, base.env)
    with open(os.path.join(root, "results.md"), "w") as f:
        f.write(markdown(results, "python -m experiments.compare " + shlex.join(sys.argv[1:]),
                         physics))
    print(f"results in {root}/results.json, results.md, {', '.join(figures)}")


def run() -> None:
    """The ``trmrl-compare`` command and ``python -m experiments.compare``."""
    cli.run_app(main, __name__)


if __name__ == "__main__":
    run()
