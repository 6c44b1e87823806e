"""WHAT is trained: one file per model, each ending with its registration.

Importing this package registers every model (and any custom layer they define), which is also
what `keras.saving.load_model` needs before it can load a saved `model.keras`.
"""

from models import (  # noqa: F401  (imported to register)
    cnn,
    dqn,
    gan,
    mlp,
    policy_gradient,
    rnn,
    speech,
    speech_to_text,
    transformer,
    vae,
)
from models.registry import AgentSpec, ModelSpec, get_spec, names, register  # noqa: F401
