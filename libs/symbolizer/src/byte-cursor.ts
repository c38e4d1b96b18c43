/**
 * A little-endian reader over a buffer, for the ELF sections the symbolizer parses (.eh_frame CFI,
 * DWARF .debug_*). LEB128 and C strings stop at the buffer's end, so a truncated section cannot
 * loop or read past it.
 */
export class ByteCursor {
  constructor(
    readonly b: Buffer,
    public pos = 0,
  ) {}
  u8(): number {
    return this.b[this.pos++]!;
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    const v = this.b.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    const v = this.b.readUInt32LE(this.pos) + this.b.readUInt32LE(this.pos + 4) * 4294967296;
    this.pos += 8;
    return v;
  }
  s64(): number {
    const v = this.b.readUInt32LE(this.pos) + this.b.readInt32LE(this.pos + 4) * 4294967296;
    this.pos += 8;
    return v;
  }
  /** An unsigned integer of `n` bytes (1, 2, 4 or 8). */
  uN(n: number): number {
    return n === 8 ? this.u64() : n === 4 ? this.u32() : n === 2 ? this.u16() : n === 1 ? this.u8() : this.u64();
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80) || this.pos >= this.b.length) return result;
    }
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    let byte: number;
    do {
      byte = this.b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80 && this.pos < this.b.length);
    if (byte & 0x40) result -= mul;
    return result;
  }
  cstr(): string {
    let end = this.b.indexOf(0, this.pos);
    if (end < 0) end = this.b.length;
    const s = this.b.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
}
