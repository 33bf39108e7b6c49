"""The NVFlare dashboard's WSGI app as gunicorn loads it on the hub (hubctl.py dashboard).

NVFlare reads the key that signs login tokens from SECRET_KEY when it is imported. systemd hands
the key over as a credential (flare-dashboard.service: LoadCredential=secret_key); it is in the
environment only while the app is made, so the processes the dashboard starts (zip) never see it.
"""

import os
from pathlib import Path

os.environ["SECRET_KEY"] = (Path(os.environ["CREDENTIALS_DIRECTORY"]) / "secret_key").read_text().strip()
try:
    from nvflare.dashboard.wsgi import app  # noqa: E402  (reads SECRET_KEY)
finally:
    del os.environ["SECRET_KEY"]

__all__ = ["app"]
