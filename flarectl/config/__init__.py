"""The federation file's model. `federation.load_federation(path)` is the only way in; bad
input raises `errors.ConfigError` with one human message per problem, never a traceback.

- fields.py      each kind of value (site name, CIDR, GPU memory, requirement...) once
- errors.py      ConfigError and the messages it carries
- hub.py         AWS target, network, hub host, DNS, certificate
- sites.py       what every client site has; each kind's own model is in flarectl/sites/
- federation.py  the whole file, with the site kinds from flarectl/sites/registry.py
"""

from importlib import resources
from pathlib import Path

# The embedded default federation: `make synth` uses it; it needs no AWS account.
DEFAULT_FEDERATION = Path(str(resources.files("flarectl") / "federation.yaml"))
