/**
 * Stages the records of one upload stream with bounded memory. A stream holds up to `memoryRecords`
 * records in memory, and all streams together up to `memoryBytes` (estimated: what the records
 * weigh as JavaScript objects); past either bound the pushing stream moves its oldest records, a few
 * per push, as JSON lines to a file of its own in the staging directory, and the stream is paused
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
/** Records moved to the spill file per push at most (see spill()). */
const SPILL_BATCH = 64;
/** Spilled slots at the front of memory before the array is compacted. */
const COMPACT_AT = 4096;

/**
 * Records a stream pushes before it lets the event loop take other work: grpc-js hands a stream's
 * queued messages over in one chain of microtasks, which held every other request for over a
 * second when an agent sent 40,000 stacks at once.
 */
const PUSHES_PER_TURN = 256;

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
  /** Records not spilled are memory[head..]; the slots before head went to the file. */
  private memory: T[] = [];
  private head = 0;
  /** JSON lines spilled but not yet handed to the file. */
  private pending = '';
  /** Estimated bytes of `memory`, counted in the shared StagingMemory too. */
  private bytes = 0;
  private file: SpillFile | null = null;
  private waitingForDrain = false;
  /** Reasons the flow is paused (a spill file to drain, a turn of the event loop); resumed at none. */
  private holds = 0;
  private pushesThisTurn = 0;
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
    if (this.memory.length - this.head >= this.options.memoryRecords || this.shared.used > this.shared.limit)
      this.spill();
    if (++this.pushesThisTurn >= PUSHES_PER_TURN) {
      this.pushesThisTurn = 0;
      this.hold();
      setImmediate(() => this.releaseHold());
    }
  }

  private hold(): void {
    if (this.holds++ === 0) this.flow.pause();
  }

  private releaseHold(): void {
    if (this.holds > 0 && --this.holds === 0) this.flow.resume();
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

  /**
   * Moves the oldest records in memory to the file, at most SPILL_BATCH per push: a stream past its
   * bound converges to the bound in a few hundred pushes instead of serializing tens of MB in one
   * stretch of the event loop (which held every other request for seconds). The file holds a
   * prefix of the stream and memory the rest, so push order is kept.
   */
  private spill(): void {
    const file = this.file ?? this.openFile();
    if (file.error) throw file.error;
    let freed = 0;
    for (let n = 0; n < SPILL_BATCH && this.head < this.memory.length; n++) {
      const r = this.memory[this.head]!;
      this.memory[this.head++] = undefined as T;
      this.pending += JSON.stringify(r) + '\n';
      freed += this.sizeOf(r);
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= this.memory.length) {
      this.memory = this.memory.slice(this.head);
      this.head = 0;
    }
    this.bytes -= freed;
    this.shared.used -= freed;
    if (this.pending.length >= SPILL_PIECE) this.flushPending(file);
  }

  private flushPending(file: SpillFile): void {
    if (this.pending.length === 0) return;
    const text = this.pending;
    this.pending = '';
    this.write(file, text);
  }

  private write(file: SpillFile, text: string): void {
    if (file.out.write(text) || this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.hold();
    file.out.once('drain', () => {
      this.waitingForDrain = false;
      this.releaseHold();
    });
  }

  private openFile(): SpillFile {
    mkdirSync(this.options.dir, { recursive: true });
    const path = join(this.options.dir, `upload-${randomUUID()}.ndjson`);
    const file: SpillFile = { path, out: createWriteStream(path, { flags: 'wx' }), error: null };
    file.out.on('error', (err) => {
      file.error = err;
      // A paused stream would wait for a drain that never comes: let it run to its failure.
      this.holds = 0;
      this.flow.resume();
    });
    this.file = file;
    return file;
  }

  /** The staged records in push order, `size` at a time. Throws the spill file's write error, if any. */
  async *chunks(size: number): AsyncGenerator<T[]> {
    const file = this.file;
    if (file) {
      this.flushPending(file);
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
    for (let i = this.head; i < this.memory.length; i += size) yield this.memory.slice(i, i + size);
  }

  /** Drops everything staged; idempotent. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.memory = [];
    this.head = 0;
    this.pending = '';
    this.release();
    const file = this.file;
    if (!file) return;
    file.out.destroy();
    await rm(file.path, { force: true });
  }
}
