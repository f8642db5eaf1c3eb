# One image per example app:  docker build --build-arg APP=fastify-example -t ringroute/fastify-example .
# APP is a folder under apps/ (fastify-example, express-example, hocuspocus-example). See deploy/ for Kubernetes.
FROM node:20-bookworm-slim
ENV COREPACK_INTEGRITY_KEYS=0
RUN corepack enable
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
ARG APP=fastify-example
# The apps run their TypeScript with tsx; their tsconfig maps @ringroute/* to the workspace sources (no build step).
WORKDIR /app/apps/${APP}
ENV NODE_ENV=production PORT=3000
EXPOSE 3000
USER node
# node is PID 1 and gets SIGTERM directly: the app leaves the ring before exiting.
CMD ["node", "--import", "tsx", "src/main.ts"]
