# StreamFraud trainer (CPU): `train`, `models list|promote|rollback`. Build from the repository root:
#   docker build -f deploy/trainer.Dockerfile -t streamfraud/trainer:0.13.0 .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# gcc builds libstreamfraud_amx.so, the managed_bf16 LSTM path's AMX product (the build goes on without it).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN dotnet publish src/StreamFraud.Trainer -c Release -o /out

FROM mcr.microsoft.com/dotnet/runtime:10.0
RUN apt-get update && apt-get install -y --no-install-recommends libxgboost0 && rm -rf /var/lib/apt/lists/*
# Non-root: the image's "app" user (uid 1654, as in scorer.Dockerfile and the Kubernetes securityContext), owner of
# /models so a fresh Docker volume mounted there is writable.
RUN mkdir -p /models /data && chown "$APP_UID:$APP_UID" /models
ENV OMP_WAIT_POLICY=passive \
    HOME=/tmp
WORKDIR /app
COPY --from=build /out .
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/StreamFraud.Trainer.dll"]
