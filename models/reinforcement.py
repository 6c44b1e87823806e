"""The arithmetic of reinforcement learning, as small pure functions the agents share and the
tests check by hand: discounted returns, TD targets, an exploration schedule, a replay buffer,
and the random-generator state an agent saves so that a resumed run draws what it would have.
"""

import json

import numpy as np
import tensorflow as tf


def discounted_returns(rewards, discount_factor: float, value_after: float = 0.0) -> np.ndarray:
    """G_t = r_t + gamma * r_{t+1} + gamma^2 * r_{t+2} + ... for each step of one episode.

    Computed backwards in one pass: G_t = r_t + gamma * G_{t+1}. After the last step G is 0 when
    the episode really ended, or `value_after`, an estimate of what was still to come, when a
    time limit cut it short."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    running = value_after
    for step in reversed(range(len(rewards))):
        running = rewards[step] + discount_factor * running
        returns[step] = running
    return returns


def td_targets(rewards, next_values, terminated, discount_factor: float) -> tf.Tensor:
    """One-step temporal-difference targets r + gamma * V(s'), with no future after a terminal
    state (the pole fell). A time-limit cut is not terminal: the future still counts there.

    rewards, next_values, terminated: (batch,) -> (batch,)"""
    rewards = tf.cast(rewards, tf.float32)
    alive = 1.0 - tf.cast(terminated, tf.float32)
    return rewards + discount_factor * alive * tf.cast(next_values, tf.float32)


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """From `start` at step 0 to `end` at step `duration`, then constant (e.g. epsilon)."""
    fraction = min(max(step, 0) / max(duration, 1), 1.0)
    return start + fraction * (end - start)


class ReplayBuffer:
    """The last `capacity` transitions in a ring of NumPy arrays; sampling is uniform.

    Learning from random old transitions, rather than from the last few in order, breaks the
    strong correlation between consecutive steps that makes Q-learning with networks unstable."""

    def __init__(self, capacity: int, observation_shape, seed: int = 0):
        self.capacity = capacity
        self.observations = np.zeros((capacity, *observation_shape), np.float32)
        self.next_observations = np.zeros((capacity, *observation_shape), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.size = 0  # how many slots hold a transition
        self.next_index = 0  # where the next one goes, overwriting the oldest once full
        self.rng = np.random.default_rng(seed)

    def add(self, observation, action, reward, next_observation, terminated) -> None:
        index = self.next_index
        self.observations[index] = observation
        self.actions[index] = action
        self.rewards[index] = reward
        self.next_observations[index] = next_observation
        self.terminated[index] = terminated
        self.next_index = (index + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def state(self) -> dict:
        """Everything needed to continue exactly: {name: np.ndarray}, for a backup."""
        return {
            "observations": self.observations,
            "next_observations": self.next_observations,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
            "size": np.array(self.size),
            "next_index": np.array(self.next_index),
            "rng": generator_state(self.rng),
        }

    def load_state(self, state: dict) -> None:
        for name in ("observations", "next_observations", "actions", "rewards", "terminated"):
            getattr(self, name)[...] = state[name]
        self.size, self.next_index = int(state["size"]), int(state["next_index"])
        set_generator_state(self.rng, state["rng"])

    def sample(self, batch_size: int) -> dict:
        """A batch of transitions drawn uniformly, with replacement: {name: (batch, ...)}."""
        if self.size == 0:
            raise ValueError("the replay buffer is empty; add transitions before sampling")
        indices = self.rng.integers(0, self.size, batch_size)
        return {
            "observations": self.observations[indices],
            "actions": self.actions[indices],
            "rewards": self.rewards[indices],
            "next_observations": self.next_observations[indices],
            "terminated": self.terminated[indices],
        }


def generator_state(rng: np.random.Generator) -> np.ndarray:
    """A NumPy generator's position as a string array, storable in an .npz file."""
    return np.array(json.dumps(rng.bit_generator.state))


def set_generator_state(rng: np.random.Generator, state: np.ndarray) -> None:
    rng.bit_generator.state = json.loads(str(state))
