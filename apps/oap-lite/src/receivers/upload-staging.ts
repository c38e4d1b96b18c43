/**
 * Stages the records of one upload stream with bounded memory. A stream holds up to `memoryRecords`
 * records in memory, and all streams together up to `memoryBytes` (estimated: what the records
 * weigh as JavaScript objects); past either bound the pushing stream's records go as JSON lines to
 * a file of its own in the staging directory, written a piece at a time, and the stream is paused
 * while that file lags behind (so gRPC flow control slows the agent down instead of this process
 * buffering). Nothing reaches storage until the stream completed: then the records are read back
 * in chunks. A stream that ends any other way calls discard(), which removes the file.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface StagingOptions {
  /** Directory for the spill files (created when first needed). */
  dir: string;
  /** Records of one stream held in memory before they spill to its file. */
  memoryRecords: number;
}

/** Bytes of staged records that all streams together hold in memory. */
export class StagingMemory {
  used = 0;
  constructor(readonly limit: number) {}
}

/** Characters of JSON handed to the spill file at a time: a spill never builds one huge string. */
const SPILL_PIECE = 1 << 20;

/** What a staged stream needs from its source: stop and restart the flow of messages. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

interface SpillFile {
  path: string;
  out: WriteStream;
  error: Error | null;
}

export class StagedRecords<T> {
  private memory: T[] = [];
  /** Estimated bytes of `memory`, counted in the shared StagingMemory too. */
  private bytes = 0;
  private file: SpillFile | null = null;
  private waitingForDrain = false;
  private discarded = false;
  /** Records pushed so far. */
  count = 0;

  constructor(
    private readonly options: StagingOptions,
    private readonly flow: FlowControl,
    private readonly shared: StagingMemory,
    /** Estimated bytes a record holds in memory. */
    private readonly sizeOf: (record: T) => number,
  ) {}

  push(record: T): void {
    this.memory.push(record);
    this.count++;
    const size = this.sizeOf(record);
    this.bytes += size;
    this.shared.used += size;
    if (this.memory.length >= this.options.memoryRecords || this.shared.used > this.shared.limit) this.spill();
  }

  /** Gives the shared budget back what this stream's memory held. */
  private release(): void {
    this.shared.used -= this.bytes;
    this.bytes = 0;
  }

  /** Whether records went to a file (the stream was larger than the memory bound). */
  get spilled(): boolean {
    return this.file !== null;
  }

  private spill(): void {
    const file = this.file ?? this.openFile();
    if (file.error) throw file.error;
    let text = '';
    for (const r of this.memory) {
      text += JSON.stringify(r) + '\n';
      if (text.length >= SPILL_PIECE) {
        this.write(file, text);
        text = '';
      }
    }
    if (text.length > 0) this.write(file, text);
    this.memory = [];
    this.release();
  }

  private write(file: SpillFile, text: string): void {
    if (file.out.write(text) || this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.flow.pause();
    file.out.once('drain', () => {
      this.waitingForDrain = false;
      this.flow.resume();
    });
  }

  private openFile(): SpillFile {
    mkdirSync(this.options.dir, { recursive: true });
    const path = join(this.options.dir, `upload-${randomUUID()}.ndjson`);
    const file: SpillFile = { path, out: createWriteStream(path, { flags: 'wx' }), error: null };
    file.out.on('error', (err) => {
      file.error = err;
      // A paused stream would wait for a drain that never comes: let it run to its failure.
      this.flow.resume();
    });
    this.file = file;
    return file;
  }

  /** The staged records in push order, `size` at a time. Throws the spill file's write error, if any. */
  async *chunks(size: number): AsyncGenerator<T[]> {
    const file = this.file;
    if (file) {
      await new Promise<void>((resolve, reject) => {
        if (file.error) return reject(file.error);
        file.out.once('error', reject);
        file.out.end(() => resolve());
      });
      if (file.error) throw file.error;
      const lines = createInterface({ input: createReadStream(file.path), crlfDelay: Infinity });
      let chunk: T[] = [];
      for await (const line of lines) {
        if (line.length === 0) continue;
        chunk.push(JSON.parse(line) as T);
        if (chunk.length >= size) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
    }
    for (let i = 0; i < this.memory.length; i += size) yield this.memory.slice(i, i + size);
  }

  /** Drops everything staged; idempotent. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.memory = [];
    this.release();
    const file = this.file;
    if (!file) return;
    file.out.destroy();
    await rm(file.path, { force: true });
  }
}
