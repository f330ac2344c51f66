# Stand-in for public.ecr.aws/lambda/provided:al2023 (Amazon Linux 2023 cannot be had on this
# machine: no registry is reachable and no AL2023 package mirror). What the constructs' images
# rely on, after AWS's documentation of the image: the variables below, WORKDIR
# ${LAMBDA_TASK_ROOT}, bootstrap at ${LAMBDA_RUNTIME_DIR}/bootstrap, ENTRYPOINT
# /lambda-entrypoint.sh taking the handler as its one argument. The OS is Debian bookworm
# (minbase), glibc 2.36 (AL2023: 2.34).
ARG BASE
FROM ${BASE}
ENV LANG=en_US.UTF-8 \
    TZ=:/etc/localtime \
    PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib \
    LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime
COPY lambda-entrypoint.sh /lambda-entrypoint.sh
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
