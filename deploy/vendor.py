"""Third-party browser code the dashboard serves, fetched at set-up time (never at run time:
the machine has no internet then) from the npm registry's tarball with the standard library,
its sha512 checked against the pin, into a git-ignored folder. No node or npm is needed.

    python -m deploy.vendor          fetch what is missing (the `./jiedao` bootstrap runs it)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = Path(os.environ.get("JIEDAO_VENDOR_DIR") or ROOT / ".cache" / "vendor")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's `dist.integrity` for this version (sha512, base64)
    files: dict[str, str]  # path in the tarball -> file name in the vendor folder

    @property
    def tarball(self) -> str:
        return f"https://registry.npmjs.org/{self.name}/-/{self.name}-{self.version}.tgz"

    @property
    def folder(self) -> Path:
        return VENDOR_DIR / self.name


ECHARTS = Package(
    name="echarts", version="6.1.0",
    integrity="sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOk"
              "bk6HIVpIyHZA==",
    files={"package/dist/echarts.min.js": "echarts.min.js", "package/LICENSE": "LICENSE"},
)
PACKAGES = (ECHARTS,)


class IntegrityError(RuntimeError):
    """The downloaded tarball is not the one pinned."""


def check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise IntegrityError(f"only sha512 pins are accepted, not {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise IntegrityError(f"sha512 mismatch: expected {expected}, got {actual}")


def extract(package: Package, data: bytes, folder: Path) -> None:
    """Write the package's wanted files into `folder` (each whole, or not at all)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member_name, file_name in package.files.items():
            member = archive.extractfile(member_name)
            if member is None:
                raise IntegrityError(f"{member_name} is not a file in {package.tarball}")
            partial = folder / f".{file_name}.part"
            partial.write_bytes(member.read())
            partial.replace(folder / file_name)  # a half-written file is never served


def installed(package: Package) -> bool:
    return all((package.folder / name).is_file() for name in package.files.values()) and (
        (package.folder / "VERSION").is_file()
        and (package.folder / "VERSION").read_text().strip() == package.version)


def fetch(package: Package, timeout: float = 60.0) -> None:
    print(f"jiedao: fetching {package.name} {package.version} from the npm registry ...",
          flush=True)
    with urllib.request.urlopen(package.tarball, timeout=timeout) as answer:  # noqa: S310
        data = answer.read()
    check_integrity(data, package.integrity)
    extract(package, data, package.folder)
    (package.folder / "VERSION").write_text(package.version + "\n")


def ensure_vendored() -> int:
    """Fetch every pinned package not yet in place; 1 (with the reason) if one cannot be."""
    for package in PACKAGES:
        if installed(package):
            continue
        try:
            fetch(package)
        except (OSError, IntegrityError, tarfile.TarError) as exc:
            print(f"jiedao: could not vendor {package.name} {package.version} ({exc}); the "
                  "dashboard shows tables without charts until `./jiedao setup` succeeds",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(ensure_vendored())
