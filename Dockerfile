# The build stage bundles src/ into dist/tierwise.js (npm run build, a dev dependency); the image
# runs that bundle, without the TypeScript loader (README, "Memory").
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY scripts ./scripts
COPY tsconfig.json ./
RUN npm run build

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY drizzle ./drizzle
COPY tsconfig.json ./
COPY --from=build /app/dist ./dist
EXPOSE 3000
USER node
CMD ["node", "--max-old-space-size=832", "dist/tierwise.js", "start"]
