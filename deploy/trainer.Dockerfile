# StreamFraud trainer (CPU): `train`, `models list|promote|rollback`. Build from the repository root:
#   docker build -f deploy/trainer.Dockerfile -t streamfraud/trainer .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/StreamFraud.Trainer -c Release -o /out

FROM mcr.microsoft.com/dotnet/runtime:10.0
RUN apt-get update && apt-get install -y --no-install-recommends libxgboost0 && rm -rf /var/lib/apt/lists/*
ENV OMP_WAIT_POLICY=passive
WORKDIR /app
COPY --from=build /out .
ENTRYPOINT ["dotnet", "/app/StreamFraud.Trainer.dll"]
