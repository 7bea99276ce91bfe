/**
 * Prototyping only: writes process.memoryUsage() to stderr every 50 ms as {"mem": {...}} lines;
 * with --expose-gc, SIGUSR2 runs a full GC first and writes {"gc": {...}} (live memory).
 */
setInterval(() => process.stderr.write(`${JSON.stringify({ mem: process.memoryUsage() })}\n`), 50).unref();
process.on("SIGUSR2", () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stderr.write(`${JSON.stringify({ gc: process.memoryUsage() })}\n`);
});
