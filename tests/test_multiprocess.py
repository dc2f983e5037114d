"""One job over two local CPU processes on JAX's distributed runtime (gloo collectives)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--episode_length=8", "--episodes_per_trial=2", "--num_tasks=16", "--window=4",
         "--d_model=16", "--num_heads=2", "--d_ff=32", "--head_hidden=16", "--num_minibatches=2",
         "--num_epochs=1", "--eval_tasks=2", "--eval_episodes=2"]
ENV = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
ENV.update(PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(workdir, *extra, processes=2, port=None):
    port = port or free_port()
    return [subprocess.Popen(
        [sys.executable, "-m", "experiments.train", *SMALL, f"--workdir={workdir}",
         f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={processes}",
         f"--process_id={i}", *extra], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for i in range(processes)]


def wait_all(procs, timeout=600):
    outs = [p.communicate(timeout=timeout) for p in procs]
    return [p.returncode for p in procs], outs


def params_of(workdir):
    """Final parameters of a run, restored onto this process's single device (a checkpoint
    written by two processes restores into any topology)."""
    import jax

    from trmrl_jax.checkpoint import Checkpointer
    from trmrl_jax.config import Config
    from trmrl_jax.step import Run
    from trmrl_jax.workdir import restore_or_init

    with open(os.path.join(workdir, "config.json")) as f:
        cfg = Config.from_dict(json.load(f))
    ckpt = Checkpointer(workdir, cfg.keep_checkpoints)
    state = restore_or_init(Run.create(cfg.replace(num_devices=1)), ckpt)
    ckpt.close()
    return np.concatenate([np.ravel(np.asarray(x)) for x in jax.tree.leaves(state.params)])


def test_two_processes_equal_one_process_with_two_devices(tmp_path):
    two = str(tmp_path / "two")
    codes, outs = wait_all(launch(two, "--total_env_steps=768"))
    assert codes == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    one = str(tmp_path / "one")
    subprocess.run([sys.executable, "-m", "experiments.train", *SMALL, "--total_env_steps=768",
                    f"--workdir={one}"], cwd=ROOT, check=True, capture_output=True,
                   env=dict(ENV, XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    np.testing.assert_allclose(params_of(two), params_of(one), rtol=2e-4, atol=2e-5)
    rows = [json.loads(line) for line in open(os.path.join(two, "metrics.jsonl"))]
    assert [r["update"] for r in rows] == [1, 2, 3]  # Written by process 0 alone.
    assert os.path.exists(os.path.join(two, "eval.json"))
    assert "meta-test" in outs[0][0] and "meta-test" not in outs[1][0]


def test_killed_two_process_run_resumes(tmp_path):
    workdir = str(tmp_path / "kill")
    args = ("--total_env_steps=2560", "--checkpoint_every=1", "--keep_checkpoints=2",
            "--coordinator_timeout_s=30")
    procs = launch(workdir, *args)
    ckpt_dir = os.path.join(workdir, "checkpoints")
    deadline = time.time() + 300
    while time.time() < deadline:
        if os.path.isdir(ckpt_dir) and any(e.isdigit() for e in os.listdir(ckpt_dir)):
            break
        time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)
    try:  # Process 0 loses its peer; a job scheduler would end it too.
        procs[0].wait(timeout=20)
    except subprocess.TimeoutExpired:
        procs[0].send_signal(signal.SIGKILL)
    wait_all(procs)
    codes, outs = wait_all(launch(workdir, *args))
    assert codes == [0, 0], outs[0][1][-2000:]
    updates = [json.loads(line)["update"] for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert updates == list(range(1, 11))  # 2560 env steps = 10 updates of 16 x 16.


def test_sigterm_to_one_process_stops_both_after_the_same_update(tmp_path):
    """SIGTERM reaches process 1 alone (one worker evicted): the stop request is gathered over
    the processes between updates, so both stop after the same update, write its checkpoint
    together and exit with status 75."""
    workdir = str(tmp_path / "run")
    args = ("--agent=mlp", "--total_env_steps=256000", "--checkpoint_every=1000",
            "--coordinator_timeout_s=60")  # The MLP: the loop is under test; it compiles fastest.
    procs = launch(workdir, *args)
    metrics = os.path.join(workdir, "metrics.jsonl")
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.exists(metrics)
                                          and sum(1 for _ in open(metrics)) >= 2):
        time.sleep(0.01)
    procs[1].send_signal(signal.SIGTERM)
    codes, outs = wait_all(procs, timeout=300)
    assert codes == [75, 75], outs[0][1][-2000:] + outs[1][1][-2000:]
    last = [err.strip().splitlines()[-1] for _, err in outs]
    update = int(last[0].split(" after update ")[1].split()[0])
    for line in last:
        assert line.startswith(f"stopped by SIGTERM (process 1) after update {update} of 1000; "
                               f"checkpoint {update} is in "), line
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [str(update)]
    updates = [json.loads(line)["update"] for line in open(metrics)]
    assert updates == list(range(1, update + 1))


def _refused(tmp_path, procs):
    codes, outs = wait_all(procs, timeout=300)
    assert all(c == 2 for c in codes), outs
    assert not os.path.exists(tmp_path / "w")
    return [o[1].strip().splitlines()[-1] for o in outs]


@pytest.mark.parametrize("flags,message", [
    (["--num_processes=2", "--process_id=2", "--coordinator_address=127.0.0.1:1"],
     "process_id=2 is outside [0, 2)"),
    (["--num_processes=2", "--process_id=0"], "num_processes=2 needs --coordinator_address"),
])
def test_bad_process_settings_are_refused(tmp_path, flags, message):
    proc = subprocess.run([sys.executable, "-m", "experiments.train", *SMALL,
                           f"--workdir={tmp_path / 'w'}", *flags], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {message}" or message in proc.stderr
    assert not os.path.exists(tmp_path / "w")


def test_batch_not_dividing_over_global_devices_is_refused(tmp_path):
    # 15 tasks in 3 minibatches pass every device-free check; 15 do not split over 2 devices.
    lines = _refused(tmp_path, launch(str(tmp_path / "w"), "--num_tasks=15",
                                      "--num_minibatches=3"))
    assert all("num_tasks=15 does not divide over 2 devices" in line for line in lines)


def test_silent_coordinator_ends_with_a_clear_error(tmp_path):
    t = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", *SMALL, f"--workdir={tmp_path / 'w'}",
         f"--coordinator_address=127.0.0.1:{free_port()}", "--num_processes=2",
         "--process_id=1", "--coordinator_timeout_s=5"], cwd=ROOT, env=ENV,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "could not join the coordinator" in proc.stderr.strip().splitlines()[-1]
    assert time.time() - t < 90
    assert not os.path.exists(tmp_path / "w")
