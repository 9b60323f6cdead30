#!/bin/sh
# Debian 12 packages looplynx needs to build, test and fuzz (run as root),
# and the npm package the server tests drive it with (tests/node).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    build-essential pkg-config ca-certificates curl \
    libjansson-dev libpcre2-dev libglpk-dev libmicrohttpd-dev gnuplot-nox \
    libopenmpi-dev openmpi-bin \
    clang libclang-rt-14-dev

# Node.js for the openai-client tests.  Debian's nodejs comes without npm
# (package npm); a nodejs from another repository (e.g. NodeSource) bundles
# its own npm and conflicts with Debian's, so npm is installed only when
# missing.
command -v node >/dev/null 2>&1 || apt-get install -y --no-install-recommends nodejs
command -v npm >/dev/null 2>&1 || apt-get install -y --no-install-recommends npm
cd "$(dirname "$0")/../tests/node"
npm ci --no-audit --no-fund
