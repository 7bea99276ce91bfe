/** The process: configuration, listening, and graceful shutdown on SIGTERM and SIGINT. */
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

const { app, lifecycle, upstream } = await buildApp(config);

const loopback = ["127.0.0.1", "localhost", "::1"].includes(config.host);
if (!loopback && config.apiKeys.length === 0) {
  app.log.warn(
    { host: config.host },
    "listening beyond loopback without API_KEYS: anyone who can reach this port can load models and chat",
  );
}

let address: string;
try {
  address = await app.listen({ host: config.host, port: config.port });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    const why = {
      EADDRINUSE: "is already in use",
      EACCES: "needs privileges we do not have",
      EADDRNOTAVAIL: "is not an address of this machine",
    }[code];
    process.stderr.write(
      `Cannot listen on ${config.host}:${config.port}: ${code === "EADDRNOTAVAIL" ? `HOST=${config.host}` : `PORT=${config.port}`} ${why}. Set PORT (and HOST) to a free port, e.g. PORT=8001 npm start\n`,
    );
    await app.close();
    process.exit(1);
  }
  throw error;
}
app.log.info(
  { lmstudio: config.openaiBaseUrl, sdk: config.lmstudioBaseUrl },
  `lmstudio-service ready at ${address}; docs at ${address}/docs`,
);

// A wrong base URL shows at start-up, not only as failed chats.
upstream
  .probe?.()
  .then((warning) => {
    if (warning) app.log.warn(warning);
  })
  .catch(() => {});

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
