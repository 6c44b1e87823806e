"""The Agents tab: one episode of a trained agent beside one of an agent that acts at random,
from the same seed: both as animations, their returns, and the scores the trained policy gave
each action at every step."""

import os
import tempfile

import numpy as np
from matplotlib.figure import Figure

from training import agent_loop

ANIMATIONS = tempfile.mkdtemp(prefix="playground-episodes-")


def play(policy, description: dict, seed: int):
    """(trained GIF or None, random GIF or None, summary line, action-score figure).

    GIFs are None where the environment cannot draw itself (it needs pygame)."""
    environment_id = description["environment"]
    seed = int(seed)
    trained_act = agent_loop.greedy_actions(policy)
    trained_return, scores = _greedy_episode(trained_act, policy, environment_id, seed)
    random_return = agent_loop.greedy_returns(
        _random_act(description, seed), environment_id, [seed]
    )
    summary = (
        f"Seed {seed}: the trained agent scored {trained_return:g} in {len(scores)} steps; "
        f"an agent acting at random scored {random_return[0]:g}."
    )
    stem = os.path.join(ANIMATIONS, f"{environment_id}-{seed}-{os.getpid()}-{id(policy)}")
    trained_gif = agent_loop.save_animation(
        trained_act, environment_id, seed, stem + "-trained.gif"
    )
    random_gif = agent_loop.save_animation(
        _random_act(description, seed), environment_id, seed, stem + "-random.gif"
    )
    return trained_gif, random_gif, summary, scores_figure(scores)


def _random_act(description: dict, seed: int):
    """Uniformly random actions, the same sequence for the same seed (so the animation and the
    return show one and the same episode)."""
    rng = np.random.default_rng(seed)
    return lambda observations: rng.integers(description["num_actions"], size=len(observations))


def _greedy_episode(act, policy, environment_id: str, seed: int):
    """(return, (steps, num_actions) scores) of one greedy episode from `seed`."""
    environment, _ = agent_loop.make_environment(environment_id)
    observation, _ = environment.reset(seed=seed)
    total, scores, done = 0.0, [], False
    while not done:
        batch = observation[np.newaxis].astype(np.float32)
        scores.append(np.asarray(policy(batch, training=False))[0])
        observation, reward, terminated, truncated, _ = environment.step(int(act(batch)[0]))
        total, done = total + float(reward), terminated or truncated
    environment.close()
    return total, np.array(scores)


def scores_figure(scores: np.ndarray) -> Figure:
    """The policy's score for each action at each step: a DQN's Q-values, a policy network's
    logits. The agent takes the action with the highest one."""
    figure = Figure(figsize=(7, 3), layout="constrained")
    axes = figure.add_subplot()
    for action in range(scores.shape[1]):
        axes.plot(scores[:, action], label=f"action {action}", linewidth=1)
    axes.set(xlabel="step", ylabel="score", title="What the trained policy thought of each action")
    axes.legend(loc="best", fontsize=8)
    return figure
