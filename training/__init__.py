"""HOW models are trained: data, devices, callbacks and the Keras loop.

Nothing in this package names a model; what differs between models is declared by their
`models.registry.ModelSpec`.
"""
