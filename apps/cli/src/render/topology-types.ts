/** What the topology renderers draw: processes and the calls between them, already labelled. */
export interface TopologyPicture {
  title: string;
  subtitle?: string;
  nodes: TopologyPictureNode[];
  edges: TopologyPictureEdge[];
}

export interface TopologyPictureNode {
  id: string;
  name: string;
  /** False for virtual processes (drawn dashed). */
  real: boolean;
}

export interface TopologyPictureEdge {
  id: string;
  source: string;
  target: string;
  /** Drawn on the edge: protocol and rate ("http · 60/min"). */
  label: string;
  /** Name/value lines for the tooltip and the HTML details panel. */
  details: Array<[string, string]>;
  /** Error responses on the edge (drawn red). */
  errors: boolean;
}
