// Loads the N-API addon (build/Release/swlite_libbpf.node) and describes its surface.
// The addon path can be overridden with SWLITE_LIBBPF_NODE (for bundled apps).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
  fd: number;
}

export interface NativeMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  fd: number;
  internal: boolean;
}

export interface NativeSectionLayout {
  mapName: string;
  size: number;
  vars: Array<{ name: string; offset: number; size: number }>;
}

export interface NativeBinding {
  setLogLevel(level: number): void;
  takeLog(): Array<{ level: number; text: string }>;
  numPossibleCpus(): number;
  ensureTracefs(): 'present' | 'mounted';
  tryRaiseMemlock(): boolean;
  objOpen(path: string, btfCustomPath?: string | null): number;
  objLoad(h: number): void;
  objClose(h: number): boolean;
  objPrograms(h: number): NativeProgramInfo[];
  objMaps(h: number): NativeMapInfo[];
  progSetAutoload(h: number, prog: string, on: boolean): void;
  mapSetMaxEntries(h: number, map: string, n: number): void;
  dataSectionLayout(h: number, section: string): NativeSectionLayout;
  mapGetInitial(h: number, map: string): Buffer;
  mapSetInitial(h: number, map: string, data: Buffer): void;
  attachPerfEvent(
    h: number,
    prog: string,
    cpu: number,
    pid: number,
    sample: number,
    isFreq: boolean,
    type: number,
    config: number,
    inherit: boolean,
    inheritThread: boolean,
  ): number;
  attachTracepoint(h: number, prog: string, category: string, name: string): number;
  attachAuto(h: number, prog: string): number;
  attachUprobe(
    h: number,
    prog: string,
    retprobe: boolean,
    pid: number,
    binaryPath: string,
    offset: number,
    funcName: string | null,
  ): number;
  linkDestroy(link: number): boolean;
  /** Destroys the links in parallel (kernel detaches wait for RCU grace periods); returns how many were live. */
  linksDestroy(links: number[]): number;
  /** Takes the links out at once and destroys them on a thread; resolves when they are gone. */
  linksDestroyInBackground(links: number[]): Promise<number>;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapLookupAndDelete(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapBatch(
    fd: number,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    del: boolean,
  ): { keys: Buffer; values: Buffer; count: number };
  mapInfoByFd(fd: number): {
    id: number;
    type: number;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    name: string;
  };
  ringNew(objHandle: number, mapFd: number, arena?: boolean): number;
  ringConsume(h: number, limit?: number): Buffer[];
  /** Arena-mode rings: records copied into `arena`, [offset, length] pairs in `spans`; returns
   * count * 2 + (1 when it stopped early with more to read), or -(bytes needed) to grow `arena`. */
  ringConsumeInto(h: number, arena: Buffer, spans: Uint32Array, limit: number): number;
  ringEpollFd(h: number): number;
  /** Starts a thread that moves records into a bounded queue every intervalMs; false if one runs. */
  ringStartDrainer(h: number, maxBytes: number, intervalMs: number): boolean;
  ringFree(h: number): boolean;
  probeProgType(type: number): number;
  liveCounts(): { objects: number; links: number; ringBuffers: number };
  releaseFreeMemory(): boolean;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Candidate locations of the compiled addon, first match wins. */
export function addonCandidates(): string[] {
  const list: string[] = [];
  if (process.env.SWLITE_LIBBPF_NODE) list.push(process.env.SWLITE_LIBBPF_NODE);
  list.push(join(here, '..', 'build', 'Release', 'swlite_libbpf.node'));
  // A bundled app (apps/*/dist) carries the addon beside its bundle.
  list.push(join(here, 'swlite_libbpf.node'));
  list.push(join(here, '..', 'build', 'Debug', 'swlite_libbpf.node'));
  return list;
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use. Throws a plain Error naming the build command if missing. */
export function native(): NativeBinding {
  if (cached) return cached;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `libbpf-ts native addon not built (looked in ${candidates.join(', ')}); ` +
        'run `npm run build -w @swlite/libbpf-ts`',
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeBinding;
  return cached;
}
