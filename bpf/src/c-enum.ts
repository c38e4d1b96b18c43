// C enums mirrored by TypeScript numeric enums: the C names are the prefix plus the UPPER_SNAKE
// of the TypeScript member names; enums that size arrays end with `<prefix>MAX`, the count. layout.test.ts
// compares each description with the enum in the object's BTF.

export interface CEnum {
  /** The enum tag in C (without "enum "). */
  readonly tag: string;
  /** C name -> value, including `<prefix>MAX` when the enum has it. */
  readonly values: Readonly<Record<string, number>>;
  /** Number of members before `<prefix>MAX` (the size of arrays indexed by the enum). */
  readonly count: number;
}

/** AggFull -> AGG_FULL */
const upperSnake = (key: string): string => key.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toUpperCase();

export function cEnum(
  tag: string,
  prefix: string,
  tsEnum: Record<string, string | number>,
  { max = true }: { max?: boolean } = {},
): CEnum {
  const values: Record<string, number> = {};
  let count = 0;
  for (const [key, value] of Object.entries(tsEnum)) {
    if (typeof value !== 'number') continue; // numeric enums also map values back to names
    values[prefix + upperSnake(key)] = value;
    count = Math.max(count, value + 1);
  }
  if (max) values[`${prefix}MAX`] = count;
  return { tag, values, count };
}
