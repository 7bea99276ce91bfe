/**
 * Layer rules, checked by `npm run lint`: surfaces → core → upstreams, one way. http/ is transport
 * (no domain), plugins/ are cross-cutting hooks (no domain), and nothing imports a surface but app.ts.
 */
const notTests = "\\.test\\.ts$|\\.test-helper\\.ts$";
module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", from: {}, to: { circular: true } },
    {
      name: "core-stays-below-surfaces",
      comment: "The core (model gate, chats) knows no surface, plugin or HTTP detail.",
      severity: "error",
      from: { path: "^src/core/", pathNot: notTests },
      to: { path: "^src/(surfaces|plugins|http)/|^src/(app|main)\\.ts$" },
    },
    {
      name: "upstreams-stay-at-the-bottom",
      comment: "Upstreams know nothing above them.",
      severity: "error",
      from: { path: "^src/upstreams/", pathNot: notTests },
      to: { path: "^src/(core|surfaces|plugins|http)/|^src/(app|main)\\.ts$" },
    },
    {
      name: "upstream-kinds-stay-apart",
      comment:
        "LM Studio reuses the generic OpenAI-compatible client; the generic one never names LM Studio.",
      severity: "error",
      from: { path: "^src/upstreams/openai-compatible/" },
      to: { path: "^src/upstreams/lmstudio/" },
    },
    {
      name: "http-is-transport-only",
      comment: "http/ is shared transport: no domain, no surface.",
      severity: "error",
      from: { path: "^src/http/" },
      to: { path: "^src/(core|surfaces|plugins|upstreams)/|^src/(app|main)\\.ts$" },
    },
    {
      name: "plugins-are-cross-cutting",
      comment: "Plugins (keys, lifecycle, logs, docs) apply to every surface and depend on none.",
      severity: "error",
      from: { path: "^src/plugins/" },
      to: { path: "^src/(core|surfaces|upstreams)/|^src/(app|main)\\.ts$" },
    },
    {
      name: "surfaces-stay-apart",
      comment: "Each API surface is its own plugin: one never imports another (surfaces/common is for all).",
      severity: "error",
      from: { path: "^src/surfaces/([^/]+)/" },
      to: { path: "^src/surfaces/", pathNot: "^src/surfaces/($1|common)/" },
    },
    {
      name: "only-app-composes",
      comment: "Only app.ts (and main.ts, which starts it) wires surfaces, core and upstreams together.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(app|main)\\.ts$" },
      to: { path: "^src/(app|main)\\.ts$" },
    },
    {
      name: "src-does-not-import-tests",
      severity: "error",
      from: { path: "^src/", pathNot: notTests },
      to: { path: "^(test|bench)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
