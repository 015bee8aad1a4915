// Log-scale latency histogram shared by the load generator and the benchmark runner: 20 buckets per
// doubling of microseconds (about 3.5% resolution).
export const BUCKETS = 600;
export const bucketOf = (us: number): number => (us < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(us) * 20)));
export const bucketValue = (i: number): number => 2 ** (i / 20);
