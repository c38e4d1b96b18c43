// CPython's location table (co_linetable, 3.11+; Objects/locations.md in CPython): one entry per
// run of code units, each giving the line as a delta from the previous entry's, starting at
// co_firstlineno. Only lines are decoded here; columns are skipped.

const NO_LOCATION = 15;
const LONG_FORM = 14;
const NO_COLUMNS = 13;
const ONE_LINE_0 = 10;

/**
 * The line of the instruction at byte offset `offset` of the bytecode, or undefined when the
 * table has no line for it (no location, or the table is cut before it).
 */
export function lineAt(table: Buffer, firstLine: number, offset: number): number | undefined {
  let line = firstLine;
  let addr = 0;
  let i = 0;
  while (i < table.length) {
    const head = table[i]!;
    if (!(head & 0x80)) return undefined; // not an entry start: the table is damaged
    const code = (head >> 3) & 15;
    const units = (head & 7) + 1;
    let delta: number | undefined = 0;
    if (code === LONG_FORM || code === NO_COLUMNS) delta = signedVarint(table, i + 1);
    else if (code >= ONE_LINE_0 && code < NO_COLUMNS) delta = code - ONE_LINE_0;
    if (delta === undefined) return undefined;
    line += delta;
    const end = addr + units * 2;
    if (offset >= addr && offset < end) return code === NO_LOCATION ? undefined : line;
    addr = end;
    i++;
    while (i < table.length && !(table[i]! & 0x80)) i++;
  }
  return undefined;
}

function signedVarint(b: Buffer, at: number): number | undefined {
  let shift = 0;
  let val = 0;
  for (let i = at; i < b.length; i++) {
    const byte = b[i]!;
    val += (byte & 63) * 2 ** shift;
    shift += 6;
    if (!(byte & 64)) return val % 2 === 1 ? -Math.floor(val / 2) : val / 2;
  }
  return undefined;
}
