/**
 * Prototyping only: `node --import ./bench/proto/swap.ts src/main.ts` with
 * SWAP="src/a.ts=bench/proto/x.ts,src/b.ts=bench/proto/y.ts" runs the service with those modules
 * of src/ replaced (resolve hook), to measure a change to src/ without editing src/.
 */
import { registerHooks } from "node:module";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const swaps = new Map<string, string>();
for (const pair of (process.env.SWAP ?? "").split(",").filter(Boolean)) {
  const [from, to] = pair.split("=") as [string, string];
  swaps.set(pathToFileURL(resolvePath(ROOT, from)).href, pathToFileURL(resolvePath(ROOT, to)).href);
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    const to = swaps.get(resolved.url);
    // The replacement itself may import the original (to wrap it): leave those imports alone.
    if (to && context.parentURL !== to) return { ...resolved, url: to };
    return resolved;
  },
});
