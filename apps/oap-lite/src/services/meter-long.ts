/** MAL Analyzer's conversion of a sample value to the long its functions accept. */
export const toMeterLong = (value: number): number => {
  if (value <= 0) return 0;
  if (value < 1) return 1;
  return Math.round(value);
};
