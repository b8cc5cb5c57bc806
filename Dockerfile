# Baste in a container: `docker build -t baste .`, then see README.md, "Running in production".
# The app export is mounted read-only at /app; state (SQLite databases, outbox) lives in the /data
# volume; the server runs as the image's unprivileged `node` user (uid 1000).

FROM node:20-bookworm-slim AS build
# Compilers for the native modules (better-sqlite3, isolated-vm, argon2) when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
# `npm ci` compiles src/ into dist/ (the prepare script); then the dev dependencies go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/baste
COPY package.json ./
COPY bin ./bin
COPY admin-console ./admin-console
COPY email-pages ./email-pages
COPY examples ./examples
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
RUN ln -s /opt/baste/bin/baste.js /usr/local/bin/baste \
 && mkdir -p /data /app \
 && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
# Ready: the store answers and the signing keys are loaded (GET /readyz, no token needed).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["baste"]
CMD ["serve", "--app", "/app", "--data-dir", "/data", "--host", "0.0.0.0", "--port", "8080"]
