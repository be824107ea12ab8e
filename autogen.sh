#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generate the build system from configure.ac and Makefile.am.
set -e
srcdir=$(dirname "$0")
cd "$srcdir"
mkdir -p m4 build-aux
autoreconf --force --install --warnings=all,no-portability
