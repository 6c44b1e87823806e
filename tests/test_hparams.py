"""TensorBoard's HParams dashboard and Text tab, read through a real TensorBoard server's HTTP API
as the browser reads it: two MLP runs that differ by --set and an agent in one log folder."""

import json
import socket
import time
import urllib.request

import pytest
import toy_environment  # noqa: F401  (registers SignGame-v0)
from tensorboard import program

import train
from conftest import tiny_flags
from synthetic import mock_learnable

ACTIVATIONS = ("relu", "tanh")
TRAINING_SETTINGS = ("epochs", "batch_size", "learning_rate", "dataset", "seed", "precision")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# What the dashboard posts for its table: every status, no filter, metrics included.
SESSION_GROUPS_REQUEST = {
    "startIndex": 0,
    "sliceSize": 100,
    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    "aggregationType": "AGGREGATION_AVG",
    "colParams": [],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, {run name: run dir}) of a TensorBoard serving three finished runs."""
    logdir = tmp_path_factory.mktemp("runs")
    run_dirs = {activation: logdir / f"mlp-{activation}" for activation in ACTIVATIONS}
    with mock_learnable(64):
        for activation, run_dir in run_dirs.items():
            flags = tiny_flags("mlp", run_dir, "--epochs", "1", "--set", f"activation={activation}")
            assert train.main(flags) == 0
    run_dirs["agent"] = logdir / "agent"
    agent_flags = ["--model", "policy_gradient", "--run-dir", str(run_dirs["agent"])]
    agent_flags += [
        "--env",
        "SignGame-v0",
        "--env-steps",
        "200",
        "--set",
        "evaluation_interval=100",
    ]
    assert train.main(agent_flags + ["--set", "evaluation_episodes=2"]) == 0

    board = program.TensorBoard()
    port = free_port()
    board.configure(
        argv=[None, "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1"]
    )
    url = board.launch()  # serves from a daemon thread; ends with the test process
    deadline = time.monotonic() + 60
    while get(url + "data/plugin/hparams/session_groups", SESSION_GROUPS_REQUEST)["totalSize"] < 3:
        assert time.monotonic() < deadline, "TensorBoard did not list the three runs in 60 s"
        time.sleep(0.5)
    return url, run_dirs


def session_groups(url) -> dict:
    """{activation or "agent": the session group the dashboard's table shows as one row}"""
    groups = get(url + "data/plugin/hparams/session_groups", SESSION_GROUPS_REQUEST)
    return {group["hparams"].get("activation", "agent"): group for group in groups["sessionGroups"]}


def test_the_hparams_and_text_dashboards_are_active(server):
    url, _ = server
    plugins = get(url + "data/plugins_listing")
    assert plugins["hparams"]["enabled"] and plugins["text"]["enabled"]


def test_the_experiment_lists_every_hyperparameter_and_the_final_metrics(server):
    url, _ = server
    experiment = get(url + "data/plugin/hparams/experiment", {"experimentName": ""})
    hparams = {info["name"]: info for info in experiment["hparamInfos"]}
    assert set(ACTIVATIONS) <= set(hparams["activation"]["domainDiscrete"])
    assert hparams["activation"]["differs"]
    assert {"hidden_units", "dropout_rate", *TRAINING_SETTINGS} <= set(hparams)
    assert {"environment", "env_steps", "discount_factor"} <= set(hparams)  # the agent's own
    metrics = {info["name"]["tag"] for info in experiment["metricInfos"]}
    assert {"test/accuracy", "test/loss", "validation/accuracy", "validation/loss"} <= metrics
    assert "final/best_evaluation_return" in metrics


def test_every_run_is_a_row_with_its_hyperparameters_and_metrics(server):
    url, run_dirs = server
    groups = session_groups(url)
    assert set(groups) == {*ACTIVATIONS, "agent"}
    for activation in ACTIVATIONS:
        run_dir = run_dirs[activation]
        assert groups[activation]["name"] == f"{run_dir.name} ({run_dir.parent.name})"  # Trial ID
        hparams = groups[activation]["hparams"]
        assert hparams["hidden_units"] == "16"  # a tuple, shown as the --set text
        assert hparams["epochs"] == 1 and hparams["batch_size"] == 16 and hparams["seed"] == 0
        assert hparams["dataset"] == "mnist" and hparams["precision"] == "float32"
        assert hparams["strategy"] == "DefaultDistributionStrategy"
        values = {
            value["name"]["tag"]: value["value"] for value in groups[activation]["metricValues"]
        }
        saved = json.loads((run_dirs[activation] / "metrics.json").read_text())
        assert values["test/accuracy"] == pytest.approx(saved["accuracy"])
        assert values["test/loss"] == pytest.approx(saved["loss"])
        assert 0 <= values["validation/accuracy"] <= 1
    agent = groups["agent"]
    assert agent["hparams"]["environment"] == "SignGame-v0" and agent["hparams"]["env_steps"] == 200
    values = {value["name"]["tag"]: value["value"] for value in agent["metricValues"]}
    saved = json.loads((run_dirs["agent"] / "metrics.json").read_text())
    assert values["final/best_evaluation_return"] == pytest.approx(saved["best_evaluation_return"])


def test_the_text_tab_holds_each_runs_config(server):
    url, _ = server
    tags = get(url + "data/plugin/text/tags")
    run = "mlp-tanh/logs/hparams"
    assert tags[run] == ["config.json"]
    entries = get(url + f"data/plugin/text/text?run={run}&tag=config.json")
    html = entries[-1]["text"]
    assert html.startswith("<pre><code>")  # shown as code, not as Markdown prose
    assert '"activation": "tanh"' in html and '"epochs": 1' in html
