import { defineConfig } from "vitest/config";

/**
 * The integration tests of the API, run once more against the older LM Studio the emulator can
 * play (0.3). Reliability and fuzz tests exercise the service, not LM Studio's version, and run once.
 */
const PER_PROFILE = ["test/api/**/*.test.ts", "test/lifecycle/**/*.test.ts"];
const ONCE = ["test/api/docs.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests bind real ports and spawn processes: keep the 2-core CI machine unloaded.
    maxWorkers: 2,
    // One module graph per worker, not per file: every file imports the whole service (Fastify,
    // both SDKs, openai, sharp, prom-client). Measured on the 2-core machine: 126 s isolated, 84 s
    // not, with every file also passing alone and shuffled (state lives in each file's own stacks).
    isolate: false,
    projects: [
      {
        extends: true,
        test: { name: "lmstudio-0.4", include: ["src/**/*.test.ts", "test/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "lmstudio-0.3",
          include: PER_PROFILE,
          exclude: ONCE,
          env: { EMULATOR_PROFILE: "0.3" },
        },
      },
    ],
  },
});
