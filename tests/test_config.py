"""Pure pieces of the driver: --set parsing and the history file a resumed run appends to."""

import pytest

from training.callbacks import truncate_history
from training.config import RunConfig, apply_overrides
from training.errors import UsageError

DEFAULTS = {
    "hidden_units": (512, 256),
    "activation": "relu",
    "dropout_rate": 0.3,
    "epochs": 3,
    "bias": True,
}


def test_overrides_parse_as_the_default_type():
    parsed = apply_overrides(
        DEFAULTS,
        ["hidden_units=64,32,16", "activation=sigmoid", "dropout_rate=0", "epochs=7", "bias=false"],
        "mlp",
    )
    assert parsed == {
        "hidden_units": (64, 32, 16),
        "activation": "sigmoid",
        "dropout_rate": 0.0,
        "epochs": 7,
        "bias": False,
    }
    assert (
        type(parsed["dropout_rate"]) is float and DEFAULTS["dropout_rate"] == 0.3
    )  # defaults untouched


@pytest.mark.parametrize("assignment", ["epochs=2.5", "bias=maybe", "hidden_units=1,x"])
def test_wrong_types_are_refused(assignment):
    with pytest.raises(UsageError, match="expected"):
        apply_overrides(DEFAULTS, [assignment], "mlp")


def test_resume_refuses_a_different_training_config():
    base = dict(
        model="mlp",
        dataset="mnist",
        run_dir="a",
        hyperparameters={"units": (8,)},
        epochs=3,
        batch_size=16,
        learning_rate=0.1,
    )
    saved = RunConfig(**base)
    assert (
        RunConfig(
            **{**base, "run_dir": "b", "hyperparameters": {"units": [8]}}
        ).training_differences(saved)
        == []
    )
    assert RunConfig(**{**base, "epochs": 4, "seed": 2}).training_differences(saved) == [
        "epochs",
        "seed",
    ]


def test_truncate_history_keeps_finished_epochs(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.25\n")
    truncate_history(str(path), 2)
    assert path.read_text().splitlines() == ["epoch,loss", "0,1.0", "1,0.5"]
    truncate_history(str(tmp_path / "missing.csv"), 2)  # a fresh run has none: nothing to do
