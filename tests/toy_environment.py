"""A tiny gymnasium game that an agent learns in a few thousand steps, far faster than CartPole.

Importing this module registers it as "SignGame-v0".
"""

import gymnasium as gym
import numpy as np


class SignGame(gym.Env):
    """Each step shows two random numbers in [-1, 1]; action 1 is right when the first is
    positive, action 0 when it is not. A right guess earns 1 and the game goes on, a wrong one
    ends it. At most 10 steps: a perfect player scores 10, guessing at random about 1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode  # it draws nothing

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.observation = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return self.observation, {}

    def step(self, action):
        right = int(action) == int(self.observation[0] > 0)
        self.observation = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return self.observation, float(right), not right, False, {}


RANDOM_PLAY_RETURN = 1.0  # sum over k >= 1 of 0.5^k: the expected return of guessing
gym.register(id="SignGame-v0", entry_point=SignGame, max_episode_steps=10, reward_threshold=9.0)
