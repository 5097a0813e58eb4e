#!/bin/sh
# Prints colour (even without a terminal, as many build tools do); prints the lines of
# corpus.txt when a test put one here (and bakes them into the image, whose container
# prints them); fails with exit 3 after that when CLOCAL_TEST_FAIL is set; waits until
# the file $CLOCAL_TEST_HOLD is gone when that is set.
set -eu
printf '\033[1;32m==> compiling colorful\033[0m\n'
printf '\033[33mwarning:\033[0m nothing to compile, \033[4mreally\033[0m\n'
mkdir -p .src
: > .src/corpus.txt
if [ -f corpus.txt ]; then
  cat corpus.txt
  cp corpus.txt .src/corpus.txt
fi
if [ -n "${CLOCAL_TEST_FAIL:-}" ]; then
  printf '\033[31mbuild failed\033[0m\n'
  exit 3
fi
if [ -n "${CLOCAL_TEST_HOLD:-}" ]; then
  printf '\033[36mwaiting for the test\033[0m\n'
  while [ -f "$CLOCAL_TEST_HOLD" ]; do sleep 0.2; done
fi
date > .src/stamp
printf '\033[1;32m==> done\033[0m\n'
