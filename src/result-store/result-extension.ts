const EXTENSIONS: Record<string, string> = {
  'application/json': 'json',
  'text/csv': 'csv',
  'text/plain': 'txt',
  'text/html': 'html',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'application/pdf': 'pdf',
};

/** Every extension a result file may have. */
export const RESULT_EXTENSIONS: readonly string[] = [...new Set([...Object.values(EXTENSIONS), 'bin'])];

/** The file extension of a result (README, “How results are stored”): from the media type, `+json`/`+xml` suffixes included, else `bin`. */
export function resultExtension(contentType: string | null): string {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType.endsWith('+json')) {
    return 'json';
  }
  if (mediaType.endsWith('+xml')) {
    return 'xml';
  }
  return EXTENSIONS[mediaType] ?? 'bin';
}
