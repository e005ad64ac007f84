# The snapbuild worker, for a shared Temporal server (see docker-compose.yml).
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends util-linux mount e2fsprogs ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV SNAPBUILD_HOME=/var/lib/snapbuild
ENTRYPOINT ["node", "bin/snapbuild.js"]
CMD ["worker"]
