"""The agents and their loop: updates that move the right way, learning a toy game far above
chance through train.main and evaluate.main, TensorBoard, and resume after SIGKILL."""

import csv
import json
import os
import signal
import types

import numpy as np
import pytest
import tensorflow as tf
from toy_environment import RANDOM_PLAY_RETURN

import evaluate
import train
from conftest import (
    model_weights,
    op_determinism_restored,
    start_training,
    stop_when,
    tiny_flags,
)
from models import dqn, policy_gradient
from training.config import RunConfig

AGENTS = ["dqn", "policy_gradient"]


def make_agent(
    agent_class, hyperparameters, learning_rate, batch_size=8, observation_size=2, num_actions=2
):
    info = types.SimpleNamespace(observation_size=observation_size, num_actions=num_actions)
    config = RunConfig(
        model="test",
        run_dir="unused",
        hyperparameters=hyperparameters,
        batch_size=batch_size,
        learning_rate=learning_rate,
    )
    return agent_class(info, config)


def test_dqn_update_moves_q_toward_the_td_target():
    """A terminal transition with reward 1 has TD target exactly 1: Q(s, a) must converge there."""
    hyperparameters = {**dqn.SPEC.hyperparameters, "hidden_units": (16,)}
    agent = make_agent(dqn.DeepQNetworkAgent, hyperparameters, learning_rate=1e-2)
    state = np.array([[0.5, -0.5]] * 8, np.float32)
    arguments = (state, np.ones(8, np.int64), np.ones(8, np.float32), state, np.ones(8, np.float32))
    for _ in range(300):
        agent.update(*arguments)
    assert float(agent.q_network(state[:1])[0, 1]) == pytest.approx(1.0, abs=0.05)


def test_dqn_copies_into_the_target_network_every_interval():
    hyperparameters = {
        **dqn.SPEC.hyperparameters,
        "hidden_units": (8,),
        "learning_starts": 0,
        "train_frequency": 1,
        "gradient_steps": 1,
        "target_update_interval": 3,
    }
    agent = make_agent(dqn.DeepQNetworkAgent, hyperparameters, learning_rate=1e-2, batch_size=4)
    observation = np.array([0.1, 0.2], np.float32)
    for step in range(3):
        before = [np.array(weight) for weight in agent.target_network.weights]
        agent.observe(observation, 1, 1.0, observation, True, False, step)
        after = [np.array(weight) for weight in agent.target_network.weights]
        copied = step == 2  # after the third update
        assert all(np.array_equal(a, b) for a, b in zip(before, after)) != copied
    for target, online in zip(agent.target_network.weights, agent.q_network.weights):
        np.testing.assert_array_equal(target, online)


def test_policy_gradient_update_favours_actions_with_higher_returns():
    """One state; action 1 returned 1, action 0 returned 0: one step makes action 1 more likely."""
    hyperparameters = {
        **policy_gradient.SPEC.hyperparameters,
        "hidden_units": (8,),
        "entropy_weight": 0.0,
    }
    agent = make_agent(policy_gradient.PolicyGradientAgent, hyperparameters, learning_rate=1e-2)
    observations = np.full((8, 2), 0.3, np.float32)
    actions = np.array([0, 1] * 4, np.int64)

    def probability_of_action_1():
        return float(tf.nn.softmax(agent.policy(observations[:1]))[0, 1])

    before = probability_of_action_1()
    logs = agent.update(observations, actions, actions.astype(np.float32))
    assert probability_of_action_1() > before + 1e-3
    assert float(logs["policy_loss"]) != 0 and float(logs["baseline_loss"]) > 0


def test_policy_gradient_learns_after_batch_size_steps_of_whole_episodes():
    agent = make_agent(
        policy_gradient.PolicyGradientAgent,
        policy_gradient.SPEC.hyperparameters,
        1e-3,
        batch_size=5,
    )
    observation = np.zeros(2, np.float32)
    logs = [
        agent.observe(observation, 0, 1.0, observation, step == 2, False, step) for step in range(3)
    ]
    assert logs == [{}, {}, {}]  # one episode of 3 steps: fewer than 5
    logs = [
        agent.observe(observation, 0, 1.0, observation, step == 2, False, step) for step in range(3)
    ]
    assert (
        "policy_loss" in logs[-1] and agent.batch["actions"] == []
    )  # 6 steps: learned, batch emptied


def tensorboard_tags(log_dir) -> set[str]:
    tags = set()
    for path in tf.io.gfile.glob(os.path.join(str(log_dir), "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def agent_flags(model, run_dir, *extra) -> list[str]:
    flags = tiny_flags(model, run_dir, *extra)
    index = flags.index("--batch-size")
    return flags[:index] + flags[index + 2 :]  # the agent's own batch size unless told


@pytest.mark.parametrize(
    "model, extra",
    [
        ("dqn", []),
        ("policy_gradient", ["--batch-size", "100", "--learning-rate", "0.01"]),
    ],
)
def test_agent_learns_a_toy_game_through_train_and_evaluate(model, extra, tmp_path, capsys):
    run_dir = tmp_path / "run"
    flags = agent_flags(model, run_dir, "--env", "SignGame-v0", "--env-steps", "3000", *extra)
    assert train.main(flags) == 0
    assert (run_dir / "model.keras").exists() and not (run_dir / "backup").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["env_steps"] == 3000
    with open(run_dir / "episodes.csv") as file:
        steps = [int(row["step"]) for row in csv.DictReader(file)]
    assert len(steps) == metrics["episodes"] and steps == sorted(steps) and steps[-1] <= 3000

    assert evaluate.main([str(run_dir), "--episodes", "40"]) == 0
    evaluation = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert evaluation["episodes"] == 40
    assert evaluation["mean_return"] >= 6 * RANDOM_PLAY_RETURN, (
        evaluation
    )  # a perfect player scores 10
    assert evaluation["min_return"] <= evaluation["mean_return"] <= evaluation["max_return"] <= 10
    assert {"evaluation_returns.png", "training_returns.png"} <= set(os.listdir(run_dir / "eval"))
    assert "SignGame-v0 cannot draw itself" in capsys.readouterr().out  # no animation, no failure

    tags = tensorboard_tags(run_dir / "logs" / "train")
    assert {"episode/return", "episode/length", "evaluation/mean_return"} <= tags
    assert (
        {"agent/loss", "agent/epsilon"}
        if model == "dqn"
        else {"agent/policy_loss", "agent/entropy"}
    ) <= tags
    assert any(tag.startswith(("q_network/", "policy/")) for tag in tags)  # weight histograms


def test_evaluation_is_repeatable_and_uses_fixed_seeds(tmp_path):
    run_dir = tmp_path / "run"
    assert (
        train.main(agent_flags("policy_gradient", run_dir, "--env-steps", "300")) == 0
    )  # real CartPole-v1
    assert evaluate.main([str(run_dir), "--episodes", "5"]) == 0
    first = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert evaluate.main([str(run_dir), "--episodes", "5"]) == 0
    assert json.loads((run_dir / "eval" / "metrics.json").read_text()) == first
    assert first["reward_threshold"] == 475 and first["solved"] is False


@pytest.mark.parametrize(
    "model, stop", [("dqn", signal.SIGINT), ("policy_gradient", signal.SIGKILL)]
)
def test_resume_after_sigkill_continues_the_step_count(model, stop, tmp_path, capsys):
    """Killed after a backup, the same command resumes at the backup's step and ends exactly
    where an uninterrupted run ends (both run in this process, the killed one in its own: any
    process gives the same). Ctrl-C (SIGINT) says so in one line; after it the latest backup is
    damaged, and the resumed run falls back to the one before it, still exactly."""
    steps = 1500
    extra = [
        "--env-steps",
        str(steps),
        "--seed",
        "4",
        "--deterministic",
        "--set",
        "evaluation_interval=300",
    ]
    flags = agent_flags(model, tmp_path / "killed", *extra, "--batch-size", "64")
    process = start_training(flags)
    backup = tmp_path / "killed" / "backup" / "state.npz"
    previous = backup.parent / "previous.npz"
    code, output = stop_when(  # two backups, after some learning
        lambda: previous.exists() and backup.exists(), process, "a second backup", stop, 120
    )
    assert not (tmp_path / "killed" / "model.keras").exists()
    backed_up_step = int(np.load(backup)["loop/step"])
    if stop == signal.SIGINT:
        assert code == 130 and "Traceback" not in output, output[-3000:]
        assert f"interrupted at step {backed_up_step} of {steps}. To resume, run:" in output
        backup.write_bytes(backup.read_bytes()[:1000])  # a backup cut short
        backed_up_step = int(np.load(previous)["loop/step"])

    capsys.readouterr()
    with op_determinism_restored():  # the same command again, then an uninterrupted run, here
        assert train.main(flags) == 0
        printed = capsys.readouterr()
        uninterrupted = agent_flags(model, tmp_path / "uninterrupted", *extra, "--batch-size", "64")
        assert train.main(uninterrupted) == 0
    output = printed.out + printed.err
    assert f"at step {backed_up_step} of {steps}" in output
    assert ("state.npz cannot be read" in output) == (stop == signal.SIGINT)
    for run in ("killed", "uninterrupted"):
        assert json.loads((tmp_path / run / "metrics.json").read_text())["env_steps"] == steps
    with open(tmp_path / "killed" / "episodes.csv") as file:
        resumed_steps = [int(row["step"]) for row in csv.DictReader(file)]
    assert resumed_steps == sorted(set(resumed_steps))  # no episode counted twice
    assert (tmp_path / "killed" / "episodes.csv").read_text() == (
        tmp_path / "uninterrupted" / "episodes.csv"
    ).read_text()
    for resumed, whole in zip(
        model_weights(tmp_path / "killed"), model_weights(tmp_path / "uninterrupted")
    ):
        np.testing.assert_array_equal(resumed, whole)
