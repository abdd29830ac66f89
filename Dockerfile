# JoinedUp FHIR gateway.
#
#   docker build -t joinedup .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgresql://... -e BASE_URL=https://gateway.example.org joinedup
#
# docker-compose.yml runs it next to PostgreSQL. See docs/operations.md.

FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so a source change does not reinstall them. tsx runs
# the TypeScript sources directly (there is no build step), and it is a
# runtime dependency, so --omit=dev keeps everything the server needs. The
# `node` package installs the pinned Node 24 binary into node_modules/.bin.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY --chown=node:node . .
RUN mkdir -p /app/data

# The pinned Node from node_modules (the one `npm start` and `npm test` use)
# comes first on PATH, so the container runs exactly the tested runtime.
ENV PATH=/app/node_modules/.bin:$PATH

EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# One process, no npm or tsx wrapper in between: SIGTERM from `docker stop`
# reaches the server itself, which closes the listener and the database.
CMD ["node", "--import", "tsx", "src/main.ts"]
