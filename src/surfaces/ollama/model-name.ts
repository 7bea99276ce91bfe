/**
 * Ollama names are `model:tag` with `latest` as the default tag, and apps append `:latest`; LM
 * Studio's keys have no tag, so `:latest` means the key itself. (Other tags are kept: `key:2` is
 * how LM Studio names a second instance.)
 */
export function localName(name: string): string {
  return name.endsWith(":latest") ? name.slice(0, -":latest".length) : name;
}
