#!/bin/sh
# Make the Debian bullseye (11, Python 3.9) base image that images whose `ARG BASE=` names
# debian:bullseye-slim start FROM (theano-1.0, keras-2.3: Theano 1.0 and Keras 2.3 need the
# Python 3.9 and scipy of that era). The same recipe as bookworm's, for the bullseye suite:
#
#   images/_base/debian-bullseye/make-base.sh [TAG]      (default TAG: debian:bullseye-slim)
#
# Pull, else debootstrap --variant=minbase bullseye from the Debian archive (needs root and the
# debootstrap package; about 2 minutes). MIRROR= overrides the mirror.
# provides: debian:bullseye-slim
set -eu
exec sh "$(dirname "$0")/../debian-bookworm/make-base.sh" "${1:-debian:bullseye-slim}"
