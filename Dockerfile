# One image for every cmr server. The default command runs a whole embedded controller
# (`cmr serve`); docker-compose.yml runs one server per container (`cmr serve --service NAME`).
#
#   docker build -t cmr .
#   docker run --rm -p 127.0.0.1:17070:17070 -v cmr-data:/data cmr

# -- build: generate the protobuf code and install the application into a virtual environment --
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app
COPY constraints.txt pyproject.toml ./

# Code generators live in their own environment, which never reaches the final image.
RUN python -m venv /opt/protoc \
    && /opt/protoc/bin/pip install -c constraints.txt grpcio-tools mypy-protobuf

# Generated code is built here, from protos/, by the project's own step: it must match the
# protobuf and grpcio runtimes pinned in constraints.txt, and gen/ is never copied in.
COPY protos/ protos/
COPY scripts/ scripts/
RUN /opt/protoc/bin/python scripts/gen_protos.py

COPY cli/ cli/
COPY gateway/ gateway/
COPY kernel/ kernel/
COPY runtime/ runtime/
COPY services/ services/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -c constraints.txt .

# -- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/gen:/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GRPC_VERBOSITY=ERROR \
    CMR_HOST=0.0.0.0 \
    CMR_DATA_DIR=/data

# A fixed uid/gid, so a bind-mounted data directory or secret can be given to it on the host.
RUN groupadd --system --gid 10001 cmr \
    && useradd --system --uid 10001 --gid cmr --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin cmr \
    && mkdir /data \
    && chown cmr:cmr /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/gen /app/gen
COPY --from=build /app/cli /app/cli
COPY --from=build /app/gateway /app/gateway
COPY --from=build /app/kernel /app/kernel
COPY --from=build /app/runtime /app/runtime
COPY --from=build /app/services /app/services

WORKDIR /app
USER cmr
# A new named volume takes /data's owner from the image, so the non-root user can write to it.
VOLUME ["/data"]
EXPOSE 17070 17071 17072 17073 17074

HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=6 \
    CMD ["python", "-m", "services.common.healthcheck", "127.0.0.1:17070"]

CMD ["cmr", "serve"]
