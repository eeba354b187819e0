/** `path` without leading or trailing slashes: `/api/` → `api`. */
export function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}
