#!/bin/sh
# Debian 12 packages looplynx needs to build, test and fuzz (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    build-essential pkg-config ca-certificates \
    libjansson-dev libpcre2-dev libglpk-dev \
    libopenmpi-dev openmpi-bin \
    clang libclang-rt-14-dev
