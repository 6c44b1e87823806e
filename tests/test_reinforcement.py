"""Reinforcement-learning arithmetic, checked by hand."""

import numpy as np
import pytest

from models import reinforcement


def test_discounted_returns_of_a_short_episode():
    # gamma 0.5: G2 = -1; G1 = 0 + 0.5 * -1 = -0.5; G0 = 1 + 0.5 * -0.5 = 0.75
    np.testing.assert_allclose(
        reinforcement.discounted_returns([1, 0, -1], 0.5), [0.75, -0.5, -1.0]
    )


def test_td_targets_stop_at_a_terminal_state():
    # Two transitions: the first goes on (0.5 + 0.9 * 2), the second ends the episode (just 1).
    targets = reinforcement.td_targets(
        rewards=[0.5, 1.0], next_values=[2.0, 3.0], terminated=[False, True], discount_factor=0.9
    )
    np.testing.assert_allclose(targets, [2.3, 1.0], rtol=1e-6)


@pytest.mark.parametrize(
    "step, expected", [(-5, 1.0), (0, 1.0), (500, 0.525), (1000, 0.05), (10**6, 0.05)]
)
def test_linear_schedule_end_points(step, expected):
    assert reinforcement.linear_schedule(1.0, 0.05, 1000, step) == pytest.approx(expected)


def test_replay_buffer_wraps_around_and_samples_batches():
    buffer = reinforcement.ReplayBuffer(capacity=3, observation_shape=(2,), seed=0)
    for step in range(5):  # 5 transitions into 3 slots: steps 0 and 1 are overwritten
        buffer.add([step, step], step % 2, float(step), [step + 1, step + 1], step == 4)
    assert buffer.size == 3 and buffer.next_index == 2
    assert sorted(buffer.rewards) == [2.0, 3.0, 4.0]
    batch = buffer.sample(8)
    assert batch["observations"].shape == (8, 2) and batch["actions"].shape == (8,)
    assert set(batch["rewards"]) <= {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(
        batch["next_observations"], batch["observations"] + 1
    )  # rows stay together
    np.testing.assert_array_equal(batch["terminated"], batch["rewards"] == 4.0)


def test_sampling_an_empty_buffer_says_what_to_do():
    with pytest.raises(ValueError, match="add transitions before sampling"):
        reinforcement.ReplayBuffer(4, (2,)).sample(1)


def test_discounted_returns_of_a_cut_episode_count_what_was_still_to_come():
    # gamma 0.5, cut after two steps with 4 expected after: G1 = 1 + 0.5 * 4 = 3; G0 = 1 + 0.5 * 3 = 2.5
    np.testing.assert_allclose(
        reinforcement.discounted_returns([1, 1], 0.5, value_after=4.0), [2.5, 3.0]
    )


def test_replay_buffer_state_restores_contents_and_sampling():
    buffer = reinforcement.ReplayBuffer(capacity=4, observation_shape=(1,), seed=7)
    for step in range(6):
        buffer.add([step], 0, float(step), [step + 1], False)
    buffer.sample(3)  # move the generator along
    copy = reinforcement.ReplayBuffer(capacity=4, observation_shape=(1,), seed=99)
    copy.load_state({name: np.array(value) for name, value in buffer.state().items()})
    assert (copy.size, copy.next_index) == (4, 2)
    expected, restored = buffer.sample(5), copy.sample(5)
    for name in expected:
        np.testing.assert_array_equal(restored[name], expected[name])
