#!/bin/sh
# Prints colour (even without a terminal, as many build tools do) and, when the test asks,
# waits until the file $CLOCAL_TEST_HOLD is gone.
set -eu
printf '\033[1;32m==> compiling colorful\033[0m\n'
printf '\033[33mwarning:\033[0m nothing to compile, \033[4mreally\033[0m\n'
if [ -n "${CLOCAL_TEST_HOLD:-}" ]; then
  printf '\033[36mwaiting for the test\033[0m\n'
  while [ -f "$CLOCAL_TEST_HOLD" ]; do sleep 0.2; done
fi
mkdir -p .src
date > .src/stamp
printf '\033[1;32m==> done\033[0m\n'
