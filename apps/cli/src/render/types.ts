/** Types shared by the flame graph renderers. */

/** One frame of an analysis tree, as `analysisEBPFProfilingResult` returns it. */
export interface StackElement {
  id: string;
  parentId: string;
  symbol: string;
  /** KERNEL_SPACE or USER_SPACE. */
  stackType: string;
  /** Inclusive value: the sum over every stack passing through this frame. GraphQL Long. */
  dumpCount: number | string;
}

/** One tree per root frame; element IDs are unique within a tree only. */
export interface AnalysisTree {
  elements: StackElement[];
}

export type FrameKind = 'root' | 'user' | 'kernel';

/** A frame of the merged flame graph. */
export interface FlameNode {
  name: string;
  kind: FrameKind;
  /** Inclusive value (this frame and everything above it). */
  total: number;
  /** Value of the stacks that end in this frame. */
  self: number;
  children: FlameNode[];
}

/** What the values count: COUNT → samples, DURATION → nanoseconds of off-CPU time. */
export type ValueUnit = 'samples' | 'nanoseconds';

export interface RenderOptions {
  /** Heading of the graph; default "Flame Graph". */
  title?: string;
  /** A second line under the title (service, task, time range...). */
  subtitle?: string;
  unit?: ValueUnit;
}
