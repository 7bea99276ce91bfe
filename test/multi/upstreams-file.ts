import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LmStudioEmulator } from "../emulator/emulator.ts";

let files = 0;

/** An UPSTREAMS_FILE naming two LM Studio emulators ("a", "b") and one plain engine ("c"). */
export function writeUpstreamsFile(
  dir: string,
  a: LmStudioEmulator,
  b: LmStudioEmulator,
  c: LmStudioEmulator,
): string {
  const file = join(dir, `upstreams-${process.pid}-${files++}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: [
        { name: "a", kind: "lmstudio", openai_base_url: a.openaiBaseUrl },
        { name: "b", kind: "lmstudio", openai_base_url: b.openaiBaseUrl },
        { name: "c", kind: "openai", openai_base_url: c.openaiBaseUrl },
      ],
    }),
  );
  return file;
}
