import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const { app, lifecycle } = await buildApp(config);

const loopback = ["127.0.0.1", "localhost", "::1"].includes(config.host);
if (!loopback && config.apiKeys.length === 0) {
  app.log.warn(
    { host: config.host },
    "listening beyond loopback without API_KEYS: anyone who can reach this port can load models and chat",
  );
}

await app.listen({ host: config.host, port: config.port });
app.log.info(
  { lmstudio: config.openaiBaseUrl, sdk: config.lmstudioBaseUrl },
  `lmstudio-service ready; docs at http://${config.host}:${config.port}/docs`,
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal, inFlight: lifecycle.active }, "shutting down: draining in-flight requests");
  lifecycle.beginDrain();
  const idle = await lifecycle.waitIdle(config.shutdownGraceMs);
  if (!idle) {
    app.log.warn({ inFlight: lifecycle.active }, "grace period over: ending the remaining requests");
    lifecycle.abortAll();
    await lifecycle.waitIdle(1_000);
  }
  await app.close();
  process.exit(0);
}

process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
