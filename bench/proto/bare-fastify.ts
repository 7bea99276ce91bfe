/**
 * Prototyping only: the framework floor, a bare Fastify 5 (no logger, no plugins, no schemas) whose
 * POST /chat answers a fixed JSON body at once. PORT from the environment.
 */
import Fastify from "fastify";

const app = Fastify({ logger: false });
const answer = {
  model: "qwen/qwen3-4b-2507",
  predicted_tokens: 20,
  stop_reason: "stop",
  content: Array.from({ length: 20 }, (_, i) => `word${i + 1}`).join(" "),
};
app.post("/chat", async () => answer);
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
