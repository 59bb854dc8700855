#!/bin/sh
# Build the serving venv (/opt/venv) from the serve lock and trim it to what a server runs.
# Runs in the Dockerfile's deps stage as ONE step, so the image holds only the trimmed result:
# a file deleted in a later layer would still count in the layer that added it.
#
#   sh serve-venv.sh <requirements-serve.lock>
#
# Every trim removes files no server process opens; packages stay installed (their metadata and
# the SBOM, which is made from the lock, are unchanged). tests/image/test_image.py proves the
# result: it serves /predict with in-process scores and writes the Parquet prediction store.
set -eu
LOCK=$1
VENV=/opt/venv
SP=$VENV/lib/python3.11/site-packages

# binutils (strip) for this step only: installed, used and purged here, so no toolchain is left
# in any layer. Purge exactly what this install added (not apt's autoremove, which could take
# packages the base left unmarked).
dpkg-query -W -f '${Package}\n' | sort >/tmp/packages-before
apt-get update -qq
apt-get install -y -qq --no-install-recommends binutils >/dev/null

python3 -m venv $VENV
PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  $VENV/bin/pip install -q --no-deps --require-hashes --no-compile -r "$LOCK"

cd $SP
# The installers: nothing installs into the image at run time.
rm -rf pip pip-* setuptools* pkg_resources _distutils_hack distutils-precedence.pth $VENV/bin/pip*
# The libraries' own test suites (scipy alone ships ~20 MB of them).
find . -depth -type d -name tests -exec rm -rf {} +
# Build-time files: C/C++/Cython sources and headers, and type stubs (read by type checkers only).
find . -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.c' \
  -o -name '*.cc' -o -name '*.cpp' -o -name '*.pyi' \) -delete
# botocore's models of every AWS service but S3 (the prediction store) and STS/SSO (pod identity).
find botocore/data -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts ! -name sso ! -name sso-oidc \
  -exec rm -rf {} +
# pyarrow: Arrow Flight (an RPC framework, ~31 MB; pyarrow.parquet/compute/dataset do not load it:
# no other library lists it as NEEDED), its C++ test module, its headers and sources, and the two
# extra copies of each libarrow_python*.so kept for linking C++ extensions (the loader uses .so.2500).
rm -rf pyarrow/include pyarrow/src pyarrow/*flight* pyarrow/_pyarrow_cpp_tests* \
  pyarrow/libarrow_python.so pyarrow/libarrow_python.so.*.*.* \
  pyarrow/libarrow_python_parquet_encryption.so pyarrow/libarrow_python_parquet_encryption.so.*.*.*
# Symbol tables of the shared libraries (~70 MB; the dynamic symbols the loader needs stay).
# Not the libraries auditwheel vendored under *.libs/: patchelf rewrote their headers and strip
# corrupts them ("ELF load command address/offset not page-aligned").
find . -path './*.libs' -prune -o -type f \( -name '*.so' -o -name '*.so.*' \) -print0 \
  | xargs -0 strip --strip-unneeded

cd /
dpkg-query -W -f '${Package}\n' | sort >/tmp/packages-after
apt-get purge -y -qq $(comm -13 /tmp/packages-before /tmp/packages-after) >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/packages-before /tmp/packages-after
if command -v strip >/dev/null; then echo "serve-venv.sh: binutils still installed" >&2; exit 1; fi
