"""Site kinds, one plug-in each (a module, or a package for a larger kind), registered in
registry.py. A kind owns its config model, what synth does for it and its CLI verbs; the core
(config, app.py, the CLI) only goes through the registry and never names a kind."""
