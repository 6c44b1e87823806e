"""Deep Q-Network (DQN): learn how good each action is in each state, then act on it.

Q(s, a) estimates the discounted return of taking action a in state s and acting well after.
A network predicts Q for every action at once; it learns from transitions (s, a, r, s') drawn
from a replay buffer toward the TD target r + gamma * Q_target(s', best a'), where a second,
"target" network, a copy of the first refreshed every `target_update_interval` updates, keeps the target
from chasing itself. Actions are epsilon-greedy: random with probability epsilon (decaying from
1 to 0.04), else the best.

Double DQN: the online network picks the best next action, the target network scores it, which
curbs Q-learning's habit of overestimating.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from models import reinforcement, serving
from models.registry import AGENT_EVALUATION_HYPERPARAMETERS, AgentSpec, register


def build_q_network(observation_size: int, num_actions: int, hidden_units) -> keras.Model:
    """(batch, observation_size) states -> (batch, num_actions) Q-values."""
    observations = keras.Input(shape=(observation_size,), name="observation")
    x = observations
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
    q_values = layers.Dense(num_actions, name="q_values")(x)
    return keras.Model(observations, q_values, name="q_network")


class DeepQNetworkAgent:
    """Acts epsilon-greedily and learns from a replay buffer; every array is NumPy outside `update`.

    The interface the agent loop drives is described in models/registry.py (AgentSpec)."""

    def __init__(self, environment_info, config):
        hp = self.hyperparameters = config.hyperparameters
        self.batch_size = config.batch_size
        self.num_actions = environment_info.num_actions
        observation_size = environment_info.observation_size
        self.q_network = build_q_network(observation_size, self.num_actions, hp["hidden_units"])
        self.target_network = build_q_network(
            observation_size, self.num_actions, hp["hidden_units"]
        )
        self.target_network.set_weights(self.q_network.get_weights())
        self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.q_network.trainable_variables)
        self.replay_buffer = reinforcement.ReplayBuffer(
            hp["buffer_size"], (observation_size,), config.seed
        )
        self.rng = np.random.default_rng(config.seed)
        self._q_values = tf.function(
            lambda observations: self.q_network(observations, training=False)
        )
        self.policy = self.q_network  # greedy action = the one with the highest Q-value
        self.networks = {"q_network": self.q_network}
        self.variables = (
            self.q_network.variables + self.target_network.variables + self.optimizer.variables
        )

    def state(self) -> dict:
        return {
            "exploration_rng": reinforcement.generator_state(self.rng),
            **{f"replay/{name}": value for name, value in self.replay_buffer.state().items()},
        }

    def load_state(self, state: dict) -> None:
        reinforcement.set_generator_state(self.rng, state["exploration_rng"])
        self.replay_buffer.load_state(
            {
                name[len("replay/") :]: value
                for name, value in state.items()
                if name.startswith("replay/")
            }
        )

    def epsilon(self, step: int) -> float:
        hp = self.hyperparameters
        return reinforcement.linear_schedule(
            1.0, hp["final_epsilon"], hp["exploration_steps"], step
        )

    def act(self, observation, step: int) -> int:
        """Epsilon-greedy: a random action with probability epsilon(step), else the best one."""
        if self.rng.random() < self.epsilon(step):
            return int(self.rng.integers(self.num_actions))
        return int(np.argmax(self._q_values(observation[np.newaxis].astype(np.float32))[0]))

    @tf.function
    def update(self, observations, actions, rewards, next_observations, terminated):
        """One gradient step on a batch of transitions; returns the Huber loss. Shapes (batch, ...)."""
        next_actions = tf.argmax(self.q_network(next_observations), axis=-1)  # the online net picks
        next_values = tf.gather(
            self.target_network(next_observations), next_actions, batch_dims=1
        )  # the target scores
        targets = reinforcement.td_targets(
            rewards, next_values, terminated, self.hyperparameters["discount_factor"]
        )
        with tf.GradientTape() as tape:
            predicted = tf.gather(
                self.q_network(observations, training=True), actions, batch_dims=1
            )  # Q(s, a)
            # Huber: squared error for small TD errors, absolute for large ones, so one
            # surprising transition cannot blow up the gradient.
            loss = tf.reduce_mean(
                keras.losses.huber(targets[:, tf.newaxis], predicted[:, tf.newaxis])
            )
        variables = self.q_network.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def observe(
        self, observation, action, reward, next_observation, terminated, truncated, step: int
    ) -> dict:
        """Stores a transition and, once enough are stored, learns from a sampled batch.

        Only `terminated` (the pole fell) ends the future; `truncated` (the time limit) does not
        change what the state is worth, so the transition is stored the same way."""
        hp = self.hyperparameters
        self.replay_buffer.add(observation, action, reward, next_observation, terminated)
        logs = {"epsilon": self.epsilon(step)}
        if step >= hp["learning_starts"] and step % hp["train_frequency"] == 0:
            for _ in range(hp["gradient_steps"]):
                batch = self.replay_buffer.sample(self.batch_size)
                logs["loss"] = float(
                    self.update(
                        batch["observations"],
                        batch["actions"],
                        batch["rewards"],
                        batch["next_observations"],
                        batch["terminated"],
                    )
                )
                # Every `target_update_interval` updates the target network becomes a copy of the
                # online one, and stays fixed until the next copy. (optimizer.iterations counts the
                # updates and is part of every backup.)
                if int(self.optimizer.iterations) % hp["target_update_interval"] == 0:
                    self.target_network.set_weights(self.q_network.get_weights())
        return logs


SPEC = register(
    AgentSpec(
        name="dqn",
        description="Deep Q-Network (Double DQN, replay buffer, target network) for discrete actions",
        environment="CartPole-v1",
        build_agent=DeepQNetworkAgent,
        # Settings from rl-baselines3-zoo's tuned DQN for CartPole-v1: collect 256 steps, then make
        # 128 updates, copying into the target network after each such phase.
        hyperparameters={
            "hidden_units": (256, 256),
            "buffer_size": 50_000,
            "discount_factor": 0.99,
            "final_epsilon": 0.04,
            "exploration_steps": 8_000,  # epsilon falls linearly from 1 to final_epsilon over these
            "learning_starts": 1_000,  # random steps stored before the first update
            "train_frequency": 256,  # environment steps between learning phases
            "gradient_steps": 128,  # updates in each learning phase
            "target_update_interval": 128,  # updates between two copies into the target network
            **AGENT_EVALUATION_HYPERPARAMETERS,
        },
        test_hyperparameters={
            "hidden_units": (32,),
            "buffer_size": 1_000,
            "exploration_steps": 200,
            "learning_starts": 64,
            "train_frequency": 16,
            "gradient_steps": 8,
            "evaluation_interval": 100,
            "evaluation_episodes": 2,
        },
        env_steps=50_000,
        batch_size=64,
        learning_rate=2.3e-3,
        serving=serving.policy,
    )
)
