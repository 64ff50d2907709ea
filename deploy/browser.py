"""Debian's chromium for the dashboard's browser test (tests/test_dashboard_browser.py drives it
with Playwright: no browser download from Playwright's CDN). `jiedao test` installs it with
apt-get when it is missing and it may (as root, on Debian or Ubuntu)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root, and kept from reaching for a network it does not have.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class ChromiumMissing(RuntimeError):
    pass


def ensure_chromium(say: str = "jiedao test") -> Path:
    """The chromium executable, installed first with apt-get if missing (progress printed)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumMissing(f"the browser test needs Debian's chromium at {CHROMIUM}: run "
                              "`sudo apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The CJK fonts: the page (and its screenshots) is in Chinese.
    install = ["apt-get", "install", "-y", "-q", "chromium", "fonts-noto-cjk"]
    for step in (["apt-get", "update", "-q"], install):
        print(f"{say}: {' '.join(step)} (Debian's chromium for the browser test) ...",
              flush=True)
        if subprocess.call(step, env=env) != 0:
            raise ChromiumMissing(f"`{' '.join(step)}` failed: install chromium by hand")
    if not CHROMIUM.exists():
        raise ChromiumMissing(f"apt-get installed chromium, but not at {CHROMIUM}")
    print(f"{say}: chromium installed at {CHROMIUM}", flush=True)
    return CHROMIUM
