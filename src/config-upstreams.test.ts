import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "lmstudio-service-upstreams-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown): string {
  const path = join(dir, `u${n++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return path;
}

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("accepted");
}

describe("several upstreams", () => {
  it("without UPSTREAMS_FILE or LMSTUDIO_HOSTS, the single-upstream variables describe one upstream", () => {
    const c = loadConfig({ OPENAI_BASE_URL: "http://box:1234/v1", OPENAI_API_KEY: "k" });
    expect(c.upstreams).toEqual([
      {
        name: "box:1234",
        kind: "lmstudio",
        openaiBaseUrl: "http://box:1234/v1",
        openaiApiKey: "k",
        lmstudioBaseUrl: "ws://box:1234",
        lmstudioApiToken: undefined,
        maxConcurrentChats: undefined,
        weight: 1,
      },
    ]);
  });

  it("reads UPSTREAMS_FILE (object or array form); entries inherit the keys they do not give", () => {
    const entries = [
      { name: "gpu1", openai_base_url: "http://gpu1:1234/v1/", max_concurrent_chats: 8, weight: 2 },
      { name: "vllm", kind: "openai", openai_base_url: "http://vllm:8000/v1", openai_api_key: "v" },
    ];
    for (const content of [{ upstreams: entries }, entries]) {
      const c = loadConfig({ UPSTREAMS_FILE: file(content), OPENAI_API_KEY: "shared" });
      expect(c.upstreams).toEqual([
        {
          name: "gpu1",
          kind: "lmstudio",
          openaiBaseUrl: "http://gpu1:1234/v1",
          openaiApiKey: "shared",
          lmstudioBaseUrl: "ws://gpu1:1234",
          lmstudioApiToken: undefined,
          maxConcurrentChats: 8,
          weight: 2,
        },
        {
          name: "vllm",
          kind: "openai",
          openaiBaseUrl: "http://vllm:8000/v1",
          openaiApiKey: "v",
          lmstudioBaseUrl: "ws://vllm:8000",
          lmstudioApiToken: undefined,
          maxConcurrentChats: undefined,
          weight: 1,
        },
      ]);
    }
  });

  it("names the entry and the field of every problem in the file", () => {
    const path = file({
      upstreams: [
        { name: "gpu1", openai_base_url: "ftp://x" },
        { name: "gpu2", openai_base_url: "http://b:1/v1", weight: 0, url: "x" },
        { name: "gpu1", openai_base_url: "http://c:1/v1", kind: "vllm" },
      ],
    });
    const p = problems({ UPSTREAMS_FILE: path });
    const where = `UPSTREAMS_FILE=${JSON.stringify(path)}`;
    expect(p).toEqual(
      expect.arrayContaining([
        `${where}: line 5: upstreams[0] ("gpu1").openai_base_url: must be an http:// or https:// URL (e.g. http://gpu1:1234/v1)`,
        `${where}: line 10: upstreams[1] ("gpu2").weight: must be above 0`,
        expect.stringMatching(/line 7: upstreams\[1\] \("gpu2"\).*"url"/),
        `${where}: line 16: upstreams[2] ("gpu1").kind: must be "lmstudio" or "openai" (a plain OpenAI-compatible engine)`,
      ]),
    );
  });

  it("says what is wrong with the file as a whole", () => {
    expect(problems({ UPSTREAMS_FILE: join(dir, "missing.json") })[0]).toMatch(/no such file/);
    expect(problems({ UPSTREAMS_FILE: file("upstreams:\n  - name: a\n    weight: [1,\n") })[0]).toMatch(
      /: line \d+: /,
    );
    expect(problems({ UPSTREAMS_FILE: file({ upstreams: [] }) })[0]).toMatch(/names no upstream/);
    const dup = problems({
      UPSTREAMS_FILE: file([
        { name: "a", openai_base_url: "http://a:1/v1" },
        { name: "a", openai_base_url: "http://b:1/v1" },
      ]),
    });
    expect(dup[0]).toMatch(/upstreams\[1\] \("a"\)\.name: "a" is named twice/);
  });

  it("reads YAML as well as JSON, and names the line of a problem in it", () => {
    const yaml = file(
      "upstreams:\n  - name: gpu1\n    openai_base_url: http://gpu1:1234/v1\n  - name: gpu2\n    kind: openai\n    openai_base_url: http://gpu2:8000/v1\n    weight: 2\n",
    );
    expect(loadConfig({ UPSTREAMS_FILE: yaml }).upstreams.map((u) => [u.name, u.kind, u.weight])).toEqual([
      ["gpu1", "lmstudio", 1],
      ["gpu2", "openai", 2],
    ]);
    const bad = file(
      "upstreams:\n  - name: gpu1\n    openai_base_url: http://gpu1:1234/v1\n    weight: -3\n",
    );
    expect(problems({ UPSTREAMS_FILE: bad })).toEqual([
      `UPSTREAMS_FILE=${JSON.stringify(bad)}: line 4: upstreams[0] ("gpu1").weight: must be above 0`,
    ]);
  });

  it("reads LMSTUDIO_HOSTS as LM Studio hosts named by host and port", () => {
    const c = loadConfig({ LMSTUDIO_HOSTS: "http://gpu1:1234, http://gpu2:1234/v1" });
    expect(c.upstreams.map((u) => [u.name, u.kind, u.openaiBaseUrl, u.lmstudioBaseUrl])).toEqual([
      ["gpu1:1234", "lmstudio", "http://gpu1:1234/v1", "ws://gpu1:1234"],
      ["gpu2:1234", "lmstudio", "http://gpu2:1234/v1", "ws://gpu2:1234"],
    ]);
    expect(problems({ LMSTUDIO_HOSTS: "gpu1:1234" })[0]).toMatch(/"gpu1:1234" must be an http/);
  });

  it("refuses UPSTREAMS_FILE and LMSTUDIO_HOSTS together", () => {
    expect(problems({ UPSTREAMS_FILE: "x.json", LMSTUDIO_HOSTS: "http://a:1" })[0]).toMatch(/set one/);
  });
});
