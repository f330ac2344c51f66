#!/bin/sh
# Stand-in for /lambda-entrypoint.sh of public.ecr.aws/lambda/provided:al2023, after AWS's
# documentation of that image: exactly one argument (the handler), exported as _HANDLER; with
# AWS_LAMBDA_RUNTIME_API set (inside Lambda, or pointed at a runtime API emulator) it execs
# ${LAMBDA_RUNTIME_DIR}/bootstrap. Without it the real image execs the Runtime Interface
# Emulator (/usr/local/bin/aws-lambda-rie), which cannot be downloaded here: say so and fail.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT="${LAMBDA_RUNTIME_DIR:-/var/runtime}/bootstrap"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  if [ -x /usr/local/bin/aws-lambda-rie ]; then
    exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
  fi
  echo "stand-in image: no aws-lambda-rie; set AWS_LAMBDA_RUNTIME_API to a runtime API emulator" 1>&2
  exit 127
fi
exec "$RUNTIME_ENTRYPOINT"
