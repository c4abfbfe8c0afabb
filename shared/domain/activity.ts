// When a user's activity is recorded again: at most once per resolution (a profile write, and one
// write per celebrity followed), so a user reading their feed all day costs a write an interval.

/** Whether a user last recorded active at `activeAt` (seconds) is due to be recorded at
 *  `nowSeconds`; never recorded is always due. */
export const activityDue = (activeAt: number | undefined, nowSeconds: number, resolutionSeconds: number): boolean =>
  activeAt === undefined || nowSeconds - activeAt >= resolutionSeconds;
