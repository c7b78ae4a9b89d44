# StreamFraud scorer on a CUDA runtime (ONNX Runtime's CUDA provider needs CUDA 13 + cuDNN 9; with
# Scoring__Device=auto it falls back to CPU when no GPU is visible). Build from the repository root:
#   docker build -f deploy/scorer.Dockerfile -t streamfraud/scorer:0.13.0 .
# (Docker is not available on this project's development machines: this file is checked by reading, not built.)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# gcc builds libstreamfraud_amx.so, the managed_bf16 LSTM path's AMX product (the build goes on without it).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN dotnet publish src/StreamFraud.Scorer -c Release -r linux-x64 --self-contained -o /out

FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
# libxgboost's C API from the xgboost wheel (STREAMFRAUD_XGBOOST_LIB points the binding at it); ICU for .NET.
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip libicu74 ca-certificates curl \
 && pip3 install --no-cache-dir --break-system-packages "xgboost>=2.0,<3" \
 && rm -rf /var/lib/apt/lists/*
ENV STREAMFRAUD_XGBOOST_LIB=/usr/local/lib/python3.12/dist-packages/xgboost/lib/libxgboost.so \
    STREAMFRAUD_Scoring__Device=auto \
    ASPNETCORE_URLS=http://0.0.0.0:8080 \
    OMP_WAIT_POLICY=passive
# Non-root (uid/gid 1654, the .NET images' "app" user, as in trainer.Dockerfile and the Kubernetes securityContext);
# /models is owned by it so a fresh Docker volume mounted there is too. Nothing else is written but /tmp (the root
# file system can be read-only).
RUN groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app \
 && mkdir -p /models && chown 1654:1654 /models
ENV HOME=/tmp
WORKDIR /app
COPY --from=build /out .
USER 1654
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -sf http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/app/StreamFraud.Scorer"]
