"""Policy gradient (REINFORCE with a learned baseline): learn the policy itself.

A DQN learns values and acts on them; a policy-gradient agent learns the policy directly. The
policy network gives every action a probability; the agent samples its actions from them, plays
whole episodes, and then makes the actions that turned out better than expected more likely:

    loss = -mean_t( log pi(a_t | s_t) * A_t ) - entropy_weight * mean_t( entropy(pi(. | s_t)) )
    A_t = G_t - V(s_t)   the advantage: the discounted return from step t on (G_t = r_t +
                         gamma * r_{t+1} + ...) minus what a second network, the baseline V,
                         expected from s_t

Subtracting the baseline leaves the gradient's expected direction unchanged and makes it far less
noisy; the baseline itself learns to predict G_t (mean squared error). Advantages are normalised
over each batch (mean 0, std 1), so the step size does not depend on the scale of the rewards.
The entropy bonus keeps the policy from becoming certain too early, before it has tried enough.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from models import reinforcement, serving
from models.registry import AGENT_EVALUATION_HYPERPARAMETERS, AgentSpec, register


def build_network(observation_size: int, outputs: int, hidden_units, name: str) -> keras.Model:
    """(batch, observation_size) -> (batch, outputs): action logits for the policy, one value for
    the baseline."""
    observations = keras.Input(shape=(observation_size,), name="observation")
    x = observations
    for units in hidden_units:
        x = layers.Dense(units, activation="tanh")(x)
    return keras.Model(observations, layers.Dense(outputs, name="output")(x), name=name)


class PolicyGradientAgent:
    """Samples actions from its policy and learns after every `batch_size` steps of whole episodes.

    The interface the agent loop drives is described in models/registry.py (AgentSpec)."""

    def __init__(self, environment_info, config):
        hp = self.hyperparameters = config.hyperparameters
        self.steps_per_update = config.batch_size
        size, hidden = environment_info.observation_size, hp["hidden_units"]
        self.policy = build_network(size, environment_info.num_actions, hidden, "policy")
        self.baseline = build_network(size, 1, hidden, "baseline")
        self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.policy.trainable_variables + self.baseline.trainable_variables)
        self.rng = np.random.default_rng(config.seed)
        self.networks = {"policy": self.policy, "baseline": self.baseline}
        self.variables = self.policy.variables + self.baseline.variables + self.optimizer.variables
        self.episode = {
            "observations": [],
            "actions": [],
            "rewards": [],
        }  # the episode being played
        self.batch = {
            "observations": [],
            "actions": [],
            "returns": [],
        }  # finished episodes, not learned from yet
        one_observation = tf.TensorSpec((1, size), tf.float32)
        self._logits = tf.function(
            lambda observation: self.policy(observation), input_signature=[one_observation]
        )
        self._value = tf.function(
            lambda observation: self.baseline(observation), input_signature=[one_observation]
        )

    def act(self, observation, step: int) -> int:
        """A sample from softmax(logits), drawn with the Gumbel-max trick: argmax(logits + Gumbel noise)."""
        logits = self._logits(observation[np.newaxis].astype(np.float32))[0].numpy()
        return int(np.argmax(logits + self.rng.gumbel(size=logits.shape)))

    def observe(
        self, observation, action, reward, next_observation, terminated, truncated, step: int
    ) -> dict:
        """Records the step; at the end of an episode computes its returns, and learns once the
        finished episodes hold at least `batch_size` steps."""
        self.episode["observations"].append(observation)
        self.episode["actions"].append(action)
        self.episode["rewards"].append(reward)
        if not (terminated or truncated):
            return {}
        # Cut off by the time limit, the episode would have gone on: the baseline estimates the rest.
        value_after = (
            0.0
            if terminated
            else float(self._value(next_observation[np.newaxis].astype(np.float32))[0, 0])
        )
        returns = reinforcement.discounted_returns(
            self.episode["rewards"], self.hyperparameters["discount_factor"], value_after
        )
        self.batch["observations"].append(np.array(self.episode["observations"], np.float32))
        self.batch["actions"].append(np.array(self.episode["actions"], np.int64))
        self.batch["returns"].append(returns)
        self.episode = {"observations": [], "actions": [], "rewards": []}
        if sum(map(len, self.batch["actions"])) < self.steps_per_update:
            return {}
        batch = {name: np.concatenate(parts) for name, parts in self.batch.items()}
        self.batch = {name: [] for name in self.batch}
        logs = self.update(batch["observations"], batch["actions"], batch["returns"])
        return {name: float(value) for name, value in logs.items()}

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None,), tf.float32),
        ]
    )
    def update(self, observations, actions, returns):
        """One gradient step on a batch of steps from whole episodes. Shapes (steps, ...)."""
        with tf.GradientTape() as tape:
            log_probabilities = tf.nn.log_softmax(
                self.policy(observations, training=True)
            )  # (steps, actions)
            values = self.baseline(observations, training=True)[:, 0]  # (steps,)
            advantages = returns - tf.stop_gradient(
                values
            )  # no gradient into the baseline from here
            advantages = (advantages - tf.reduce_mean(advantages)) / (
                tf.math.reduce_std(advantages) + 1e-8
            )
            chosen = tf.gather(log_probabilities, actions, batch_dims=1)  # log pi(a_t | s_t)
            policy_loss = -tf.reduce_mean(chosen * advantages)
            entropy = -tf.reduce_mean(
                tf.reduce_sum(tf.exp(log_probabilities) * log_probabilities, axis=-1)
            )
            baseline_loss = tf.reduce_mean(tf.square(returns - values))
            # One sum for both networks: they share no weights, and Adam scales each weight's step
            # on its own, so the baseline's larger loss does not drown the policy's gradient.
            loss = policy_loss - self.hyperparameters["entropy_weight"] * entropy + baseline_loss
        variables = self.policy.trainable_variables + self.baseline.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"policy_loss": policy_loss, "baseline_loss": baseline_loss, "entropy": entropy}

    def state(self) -> dict:
        """Backups are taken between episodes, so the episode being played is always empty."""
        pending = {
            name: np.concatenate(parts) if parts else np.zeros(0)
            for name, parts in self.batch.items()
        }
        return {
            "sampling_rng": reinforcement.generator_state(self.rng),
            **{f"pending/{name}": value for name, value in pending.items()},
        }

    def load_state(self, state: dict) -> None:
        reinforcement.set_generator_state(self.rng, state["sampling_rng"])
        self.batch = {
            name: [state[f"pending/{name}"]] if len(state[f"pending/{name}"]) else []
            for name in self.batch
        }


SPEC = register(
    AgentSpec(
        name="policy_gradient",
        description="REINFORCE with a learned baseline and an entropy bonus, for discrete actions",
        environment="CartPole-v1",
        build_agent=PolicyGradientAgent,
        hyperparameters={
            "hidden_units": (64, 64),
            "discount_factor": 0.99,
            "entropy_weight": 0.01,
            **AGENT_EVALUATION_HYPERPARAMETERS,
        },
        test_hyperparameters={
            "hidden_units": (16,),
            "evaluation_interval": 100,
            "evaluation_episodes": 2,
        },
        env_steps=50_000,
        batch_size=1_000,  # environment steps (of whole episodes) per update
        learning_rate=3e-3,
        serving=serving.policy,
    )
)
