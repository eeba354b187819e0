/** A way results are kept, for suites that run against both. */
export interface ResultKeeping {
  label: string;
  /** Small results (up to `inlineResultBytes`, without headers to replay) are kept in their rows. */
  inline: boolean;
  bgrs: { inlineResultBytes?: number };
}

/** Small results in their rows (the default), or every result in the store. */
export const RESULT_KEEPING: ResultKeeping[] = [
  { label: 'small results in their rows (the default)', inline: true, bgrs: {} },
  { label: 'every result in the store (inlineResultBytes: 0)', inline: false, bgrs: { inlineResultBytes: 0 } },
];
