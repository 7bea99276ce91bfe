/**
 * Preloaded into every process the bench starts (`node --import ./bench/watchdog.ts ...`): stdin is
 * a pipe from the bench, so when the bench exits for any reason (even SIGKILL) the pipe closes and
 * this process exits too. No orphans.
 */
process.stdin.on("data", () => {});
process.stdin.once("end", () => process.exit(0));
process.stdin.once("close", () => process.exit(0));
process.stdin.once("error", () => process.exit(0));
