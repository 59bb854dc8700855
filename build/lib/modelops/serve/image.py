"""Build the serving image with buildah, without a Docker engine or an image registry.

    python -m modelops.serve.image build [--base debian-local] [--tag T] [--sbom out/image/sbom.cdx.json]

The Dockerfile's base is a build argument whose default is the digest-pinned
python slim image. Where no registry is reachable, `--base debian-local` builds an
equivalent base from Debian packages with mmdebstrap (bookworm's python3 is 3.11 like
the slim image) and imports it into local container storage. Both the base tarball
(~/.cache/modelops, keyed on its package list) and buildah's layers are cached, so a
rebuild after a source change reinstalls nothing.

pip inside the build sees this machine's pip configuration: its CA bundle and index
settings are bind-mounted read-only (they never end up in a layer).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ROOT_ENV = "MODELOPS_CONTAINER_ROOT"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# Documentation and translations are never read by a server; the merged-usr hook avoids
# Debian's usrmerge package, which would pull in a full perl (~50 MB).
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
DPKG_KEEP = ("/usr/share/doc/*/copyright",)
HOOKS = ("/usr/share/mmdebstrap/hooks/merged-usr",)
DEFAULT_TAG = "localhost/modelops-serve:latest"
SERVE_LOCK = "requirements-serve.lock"


def cache_dir() -> Path:
    return Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))


def base_key() -> str:
    """Everything that decides the base's content; a change makes a new tarball."""
    spec = {"suite": SUITE, "packages": PACKAGES, "exclude": DPKG_EXCLUDES, "keep": DPKG_KEEP, "hooks": HOOKS}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def base_name() -> str:
    return f"localhost/modelops-debian-base:{base_key()}"


def storage() -> tuple[str, ...]:
    """buildah/podman storage flags: vfs (no overlay/fuse needed; works in an unprivileged CI
    job), in a private root when MODELOPS_CONTAINER_ROOT names one. vfs keeps every layer as a
    full copy, so a test build uses a root it deletes afterwards instead of filling the disk."""
    root = os.environ.get(ROOT_ENV)
    if not root:
        return ("--storage-driver=vfs",)
    return ("--storage-driver=vfs", "--root", f"{root}/storage", "--runroot", f"{root}/run")


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def debian_base() -> str:
    """The local Debian base image, made and imported only when its key is new."""
    name = base_name()
    if subprocess.run(["podman", *storage(), "image", "exists", name], check=False).returncode == 0:
        return name
    tarball = cache_dir() / f"debian-base-{base_key()}.tar"
    if not tarball.exists():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        # mmdebstrap picks the output format from the name: keep ".tar" on the partial file.
        tmp = tarball.with_name(f"partial-{tarball.name}")
        cmd = ["mmdebstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}"]
        cmd += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
        cmd += [f"--dpkgopt=path-include={p}" for p in DPKG_KEEP]
        cmd += [f"--hook-dir={h}" for h in HOOKS]
        _run([*cmd, SUITE, str(tmp)])
        tmp.rename(tarball)  # only a complete tarball is ever cached
    _run(["podman", *storage(), "import", str(tarball), name], stdout=subprocess.DEVNULL)
    return name


def pip_config() -> dict[str, str]:
    """This machine's pip settings (`pip config list` plus PIP_* variables)."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        found[name] = value.strip().strip("'\"")
    for name in ("cert", "index-url", "extra-index-url"):
        env = os.environ.get("PIP_" + name.upper().replace("-", "_"))
        if env:
            found[name] = env
    return found


def pip_mounts(workdir: Path) -> list[str]:
    """--volume flags giving pip in the build this machine's CA bundle and index (read-only)."""
    cfg = pip_config()
    lines = ["[global]"]
    volumes = []
    if cfg.get("cert") and Path(cfg["cert"]).is_file():
        volumes.append(f"{cfg['cert']}:/etc/ssl/pip-ca.pem:ro")
        lines.append("cert = /etc/ssl/pip-ca.pem")
    if cfg.get("index-url"):
        lines.append(f"index-url = {cfg['index-url']}")
    # Local file:// indexes of the build machine are not visible inside the build.
    extra = [u for u in cfg.get("extra-index-url", "").split() if u.startswith(("http://", "https://"))]
    if extra:
        lines.append(f"extra-index-url = {' '.join(extra)}")
    conf = workdir / "pip.conf"
    conf.write_text("\n".join(lines) + "\n")
    volumes.append(f"{conf}:/etc/pip.conf:ro")
    return [flag for v in volumes for flag in ("--volume", v)]


def build(tag: str = DEFAULT_TAG, base: str | None = None, context: Path = REPO, layers: bool = True) -> str:
    """buildah bud the Dockerfile; returns the image id. `base` None keeps the Dockerfile's default.

    `layers` caches every step as an image (fast rebuilds, but in vfs each is a full copy of
    the tree); without it each stage is committed once, which a one-off build wants."""
    args = ["--build-arg", f"BASE={base}"] if base else []
    with tempfile.TemporaryDirectory(prefix="modelops-image-") as tmp:
        iid = Path(tmp) / "iid"
        _run(
            [
                "buildah",
                *storage(),
                "bud",
                "--isolation",
                "chroot",
                "--network",
                "host",
                f"--layers={str(layers).lower()}",
                "--pull=missing",
                *pip_mounts(Path(tmp)),
                *args,
                "--iidfile",
                str(iid),
                "-t",
                tag,
                "-f",
                str(context / "Dockerfile"),
                str(context),
            ]
        )
        return iid.read_text().strip()


def size_bytes(image: str) -> int:
    """Uncompressed size of the image (all layers), as `podman image inspect` reports it."""
    out = subprocess.run(
        ["podman", *storage(), "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


def sbom(out: Path, lock: Path = REPO / SERVE_LOCK) -> Path:
    """CycloneDX SBOM of exactly what the image installs (the serve lock)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("cyclonedx-py") or str(Path(sys.executable).with_name("cyclonedx-py"))
    _run([exe, "requirements", str(lock), "--output-format", "JSON", "--output-file", str(out)])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modelops.serve.image", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the serving image and its SBOM")
    b.add_argument(
        "--base",
        default="",
        help="base image; 'debian-local' makes one with mmdebstrap; "
        "empty keeps the Dockerfile's pinned default",
    )
    b.add_argument("--tag", default=DEFAULT_TAG)
    b.add_argument("--sbom", type=Path, default=REPO / "out" / "image" / "sbom.cdx.json")
    sub.add_parser("base", help="make (or reuse) the local Debian base and print its name")
    args = parser.parse_args(argv)
    if args.cmd == "base":
        print(debian_base())
        return 0
    base = debian_base() if args.base == "debian-local" else (args.base or None)
    image_id = build(args.tag, base)
    path = sbom(args.sbom)
    size = size_bytes(image_id)
    print(json.dumps({"image": args.tag, "id": image_id, "size_mb": round(size / 1e6, 1), "sbom": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
