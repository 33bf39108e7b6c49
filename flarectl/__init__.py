"""Federation config, the host-file renderer and the `flarectl` CLI."""
