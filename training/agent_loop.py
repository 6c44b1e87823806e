"""The agent loop: agents learn by acting in a gymnasium environment, one step at a time.

    train(config, spec):  environment -> agent -> up to --env-steps steps of
                          act -> environment step -> observe (the agent learns inside)
                          -> every `evaluation_interval` steps: greedy evaluation, backup
                          -> model.keras (the best-evaluated policy), metrics.json
    evaluate(config, spec, episodes): model.keras acts greedily in N seeded episodes -> eval/

What an agent must provide is described in models/registry.py (AgentSpec). Everything else an
agent run shares with the Keras loop: the run directory, config.json, TensorBoard, resume after
a kill, exit code 2 with a message for bad input.

Seeds: training episode k starts from a seed drawn from (--seed, k), so a resumed run replays
exactly what an uninterrupted one would have. Evaluation episodes use seeds no training episode
uses; the episodes that pick the best policy during training differ from the ones evaluate.py
reports, so the reported return is not the one the choice was made on.
"""

import os
import sys
import time
import types

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from training import callbacks, figures, hparams, interrupts, runs
from training.agent_state import CsvLog, RunningMeans, StepBackup
from training.config import RunConfig, versions
from training.errors import Interrupted, UsageError
from training.runs import CONFIG_FILE, MODEL_FILE

EVALUATE_OPTIONS = ("episodes",)  # evaluate.py's flags that apply here
DEFAULT_EVALUATION_EPISODES = 100
EVALUATION_SEEDS = 1_000_000  # evaluate.py's episode i starts from seed EVALUATION_SEEDS + i
SELECTION_SEEDS = 2_000_000  # the evaluations during training use these
MOVING_AVERAGE = 20  # episodes in the progress bar's and the figure's mean return
EPISODES_FILE = "episodes.csv"  # step, return and length of every training episode
EVALUATIONS_FILE = "evaluations.csv"  # step and mean return of every greedy evaluation in training


def make_environment(
    environment_id: str, render_mode: str | None = None
) -> tuple[gym.Env, types.SimpleNamespace]:
    """The gymnasium environment and what an agent needs to know of it, or a UsageError."""
    try:
        environment = gym.make(environment_id, render_mode=render_mode)
    except gym.error.Error as error:
        raise UsageError(
            f"cannot make the gymnasium environment {environment_id!r}: {error} "
            "Agents here learn e.g. CartPole-v1, Acrobot-v1 or MountainCar-v0."
        ) from None
    observations, actions = environment.observation_space, environment.action_space
    problem = None
    if not isinstance(actions, gym.spaces.Discrete):
        problem = f"its actions are {actions}, not a discrete choice (gymnasium.spaces.Discrete)"
    elif not (isinstance(observations, gym.spaces.Box) and len(observations.shape) == 1):
        problem = f"its observations are {observations}, not a flat vector of numbers"
    if problem:
        environment.close()
        raise UsageError(
            f"{environment_id} does not fit these agents: {problem}. Pick an "
            "environment with discrete actions and flat observations, e.g. CartPole-v1."
        )
    info = types.SimpleNamespace(
        environment=environment_id,
        observation_size=int(observations.shape[0]),
        num_actions=int(actions.n),
        reward_threshold=environment.spec.reward_threshold,
        max_episode_steps=environment.spec.max_episode_steps,
    )
    return environment, info


def episode_seed(seed: int, episode: int) -> int:
    """The seed training episode `episode` of a run with `--seed seed` starts from."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def greedy_actions(policy: keras.Model):
    """(episodes, observation_size) -> (episodes,) best actions, compiled once for any batch size."""
    scores = tf.function(
        lambda observations: policy(observations, training=False), reduce_retracing=True
    )
    return lambda observations: np.argmax(scores(np.asarray(observations, np.float32)), axis=-1)


def greedy_returns(act, environment_id: str, seeds) -> np.ndarray:
    """The return of one greedy episode per seed; `act` is a `greedy_actions(policy)`. The
    episodes run side by side, so the policy sees one batch per time step instead of one call
    per episode and step."""
    environments = [make_environment(environment_id)[0] for _ in seeds]
    observations = [
        environment.reset(seed=int(seed))[0] for environment, seed in zip(environments, seeds)
    ]
    returns = np.zeros(len(seeds))
    running = list(range(len(seeds)))
    while running:
        actions = act([observations[index] for index in running])
        still_running = []
        for index, action in zip(running, actions):
            observations[index], reward, terminated, truncated, _ = environments[index].step(
                int(action)
            )
            returns[index] += reward
            if not (terminated or truncated):
                still_running.append(index)
        running = still_running
    for environment in environments:
        environment.close()
    return returns


def train(config: RunConfig, spec) -> dict:
    """Trains the agent `spec` as `config` says and returns its metrics."""
    with runs.claimed(config.run_dir):
        runs.check_run_dir(config)
        try:
            with interrupts.as_stop_if_requested():
                return _train(config, spec)
        except KeyboardInterrupt:
            step = StepBackup(os.path.join(config.run_dir, "backup")).saved_step()
            raise Interrupted(f"at step {step} of {config.env_steps}") from None


def _train(config: RunConfig, spec) -> dict:
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    environment, info = make_environment(config.environment)
    hyperparameters = config.hyperparameters
    agent = _build(spec, info, config)
    act_greedily = greedy_actions(agent.policy)  # compiled once, for every evaluation of the run
    backup = StepBackup(os.path.join(config.run_dir, "backup"))
    loop = backup.restore(agent)  # step, episode, best policy so far: zeros for a new run

    runs.write_text(
        os.path.join(config.run_dir, CONFIG_FILE),
        config.to_json(environment_info=vars(info), versions=versions()),
    )
    if loop.step:
        print(
            f"Resuming {config.run_dir} at step {loop.step} of {config.env_steps} (episode {loop.episode})."
        )
    episodes = CsvLog(
        os.path.join(config.run_dir, EPISODES_FILE), ("step", "return", "length"), keep=loop.episode
    )
    evaluations = CsvLog(
        os.path.join(config.run_dir, EVALUATIONS_FILE),
        ("step", "mean_return"),
        keep=loop.evaluations,
    )
    writer = tf.summary.create_file_writer(os.path.join(config.run_dir, "logs", "train"))
    interactive = sys.stdout.isatty()
    progress = keras.utils.Progbar(
        config.env_steps,
        verbose=1 if interactive else 2,
        unit_name="step",
        stateful_metrics=["mean return", "episodes", "best evaluation"],
    )
    running_logs = RunningMeans()
    start = time.perf_counter() - loop.seconds

    observation, _ = environment.reset(seed=episode_seed(config.seed, loop.episode))
    episode_return, episode_length = 0.0, 0
    while loop.step < config.env_steps:
        interrupts.check()  # a Ctrl-C that a finalizer swallowed stops the run here
        action = agent.act(observation, loop.step)
        next_observation, reward, terminated, truncated, _ = environment.step(action)
        running_logs.add(
            agent.observe(
                observation, action, reward, next_observation, terminated, truncated, loop.step
            )
        )
        loop.step += 1
        episode_return += float(reward)
        episode_length += 1
        observation = next_observation
        if loop.step % 250 == 0:
            with writer.as_default(step=loop.step):
                for name, value in running_logs.pop().items():
                    tf.summary.scalar(f"agent/{name}", value)
        if not (terminated or truncated):
            continue

        # An episode ended: record it, evaluate and back up when it is time, start the next one.
        loop.episode += 1
        episodes.add(loop.step, episode_return, episode_length)
        with writer.as_default(step=loop.step):
            tf.summary.scalar("episode/return", episode_return)
            tf.summary.scalar("episode/length", episode_length)
        if loop.step >= loop.next_evaluation:
            _evaluate_and_keep_best(agent, act_greedily, loop, config, writer, evaluations)
            loop.next_evaluation = loop.step + hyperparameters["evaluation_interval"]
            loop.seconds = time.perf_counter() - start
            backup.save(agent, loop)
            print(
                f"step {loop.step}: greedy evaluation {loop.last_evaluation:.1f}, best {loop.best_return:.1f} "
                f"(at step {loop.best_step})",
                flush=True,
            )
        progress.update(
            loop.step,
            values=[
                ("mean return", episodes.mean_of_last(MOVING_AVERAGE)),
                ("episodes", loop.episode),
                ("best evaluation", loop.best_return),
            ],
        )
        observation, _ = environment.reset(seed=episode_seed(config.seed, loop.episode))
        episode_return, episode_length = 0.0, 0
    progress.update(config.env_steps, finalize=True)
    environment.close()

    if loop.evaluated_step != loop.step:  # the policy as training left it gets its chance too
        _evaluate_and_keep_best(agent, act_greedily, loop, config, writer, evaluations)
    writer.close()
    agent.policy.set_weights(loop.best_weights)
    metrics = {
        "env_steps": loop.step,
        "episodes": loop.episode,
        "best_evaluation_return": loop.best_return,
        "best_evaluation_step": loop.best_step,
        f"mean_return_last_{MOVING_AVERAGE}_episodes": episodes.mean_of_last(MOVING_AVERAGE),
        "training_seconds": time.perf_counter() - start,
    }
    interrupts.check()  # a Ctrl-C lost since the last step stops the run before it is "finished"
    runs.write_json(os.path.join(config.run_dir, "metrics.json"), metrics)
    runs.save_model(agent.policy, os.path.join(config.run_dir, MODEL_FILE))  # last: "finished"
    with interrupts.deferred():  # finished: a Ctrl-C now would only leave the backup behind
        backup.remove()
        print(
            f"model.keras is the policy of step {loop.best_step}, the best of the greedy "
            f"evaluations ({hyperparameters['evaluation_episodes']} episodes each)."
        )
        hparams.write_summary(config, metrics, "final")  # the run's row in the HParams dashboard
        runs.print_summary("Training", metrics, config.run_dir)
    return metrics


def evaluate(config: RunConfig, spec, episodes: int | None = None) -> dict:
    """Runs the saved policy greedily for `episodes` seeded episodes; writes RUN_DIR/eval."""
    episodes = episodes or DEFAULT_EVALUATION_EPISODES
    policy = runs.load_model(config.run_dir)
    _, info = make_environment(config.environment)
    seeds = EVALUATION_SEEDS + np.arange(episodes)
    print(f"Running {episodes} greedy episodes of {config.environment}...")
    act = greedy_actions(policy)
    returns = greedy_returns(act, config.environment, seeds)
    metrics = {
        "episodes": episodes,
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "min_return": float(np.min(returns)),
        "max_return": float(np.max(returns)),
    }
    if info.reward_threshold is not None:  # gymnasium's own bar for "solved", 475 for CartPole-v1
        metrics["reward_threshold"] = float(info.reward_threshold)
        metrics["solved"] = bool(metrics["mean_return"] >= info.reward_threshold)

    out_dir = runs.output_dir(config.run_dir, "eval")
    files = {
        "evaluation_returns": figures.save_png(
            figures.return_distribution_figure(
                returns, f"{episodes} greedy episodes of {config.environment}"
            ),
            os.path.join(out_dir, "evaluation_returns.png"),
        )
    }
    history = figures.read_history(os.path.join(config.run_dir, EPISODES_FILE))
    evaluated = figures.read_history(os.path.join(config.run_dir, EVALUATIONS_FILE))
    if history.get("step") and history.get("return"):
        files["training_returns"] = figures.save_png(
            figures.episode_returns_figure(
                np.array(history["step"]),
                np.array(history["return"]),
                MOVING_AVERAGE,
                evaluations=(evaluated["step"], evaluated["mean_return"])
                if evaluated.get("step") and evaluated.get("mean_return")
                else None,
            ),
            os.path.join(out_dir, "training_returns.png"),
        )
    animation = save_animation(
        act, config.environment, int(seeds[0]), os.path.join(out_dir, "episode.gif")
    )
    if animation:
        files["animation"] = animation
    runs.write_json(
        os.path.join(out_dir, "metrics.json"), {"environment": config.environment, **metrics}
    )
    runs.print_summary(f"Greedy {config.environment}", metrics, config.run_dir)
    for name, path in files.items():
        print(f"  {name}: {path}")
    return metrics


def save_animation(act, environment_id: str, seed: int, path: str, max_frames: int = 250):
    """A GIF of one greedy episode (every second step), when gymnasium can draw the environment;
    None otherwise (classic-control drawing needs pygame: pip install "gymnasium[classic-control]")."""
    probe, _ = make_environment(environment_id)
    can_draw = "rgb_array" in probe.metadata.get("render_modes", [])
    probe.close()
    if not can_draw:
        print(f"No animation: {environment_id} cannot draw itself.")
        return None
    os.environ.setdefault(
        "SDL_VIDEODRIVER", "dummy"
    )  # pygame draws off screen: no window, no display
    try:
        environment = gym.make(environment_id, render_mode="rgb_array")
        observation, _ = environment.reset(seed=seed)
        frames = [environment.render()]
    except gym.error.DependencyNotInstalled as error:
        print(f"No animation: {error}")
        return None
    from PIL import Image  # Pillow comes with matplotlib

    done, step = False, 0
    while not done and len(frames) < max_frames:
        observation, _, terminated, truncated, _ = environment.step(
            int(act(observation[np.newaxis])[0])
        )
        done, step = terminated or truncated, step + 1
        if step % 2 == 0 or done:
            frames.append(environment.render())
    environment.close()
    images = [Image.fromarray(frame).reduce(2) for frame in frames]  # half size: a smaller file
    temporary = path + ".partial"
    images[0].save(
        temporary, format="GIF", save_all=True, append_images=images[1:], duration=40, loop=0
    )
    os.replace(temporary, path)
    return path


def _build(spec, info, config: RunConfig):
    try:
        return spec.build_agent(info, config)
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"cannot build {spec.name} with {config.hyperparameters}: {error}"
        ) from None


def _evaluate_and_keep_best(
    agent, act_greedily, loop, config: RunConfig, writer, evaluations: "CsvLog"
) -> None:
    """Greedy episodes with the current policy; the best policy so far is kept (ties: the later)."""
    count = config.hyperparameters["evaluation_episodes"]
    seeds = SELECTION_SEEDS + loop.evaluations * count + np.arange(count)
    loop.last_evaluation = float(np.mean(greedy_returns(act_greedily, config.environment, seeds)))
    loop.evaluations += 1
    loop.evaluated_step = loop.step
    evaluations.add(loop.step, loop.last_evaluation)
    if loop.best_weights is None or loop.last_evaluation >= loop.best_return:
        loop.best_return, loop.best_step = loop.last_evaluation, loop.step
        loop.best_weights = agent.policy.get_weights()
    with writer.as_default(step=loop.step):
        tf.summary.scalar("evaluation/mean_return", loop.last_evaluation)
        tf.summary.scalar("evaluation/best_mean_return", loop.best_return)
        for network_name, network in agent.networks.items():
            for weight in network.weights:
                callbacks.write_histogram(f"{network_name}/{weight.path}", weight, loop.step)
