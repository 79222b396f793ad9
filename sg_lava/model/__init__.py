"""The float model: SpikingGamma dynamics, layers, the network and its step loop, the one
config schema, and the files that hold a model (``model.pt``) or a network (``net.toml``)."""
