/// <reference types="@webgpu/types" />
/**
 * The dispatch recorder of the hand-built pipeline: compiles each kernel kind once (pipelines by
 * `kind`), keeps bind groups by (kind, tag) and rebuilds one only when a buffer it names changed,
 * and records dispatches as Steps (labelled by kernel class for the profile).
 * A Plan is one call shape's steps: before the layers, per layer, after the layers.
 */

/** One recorded dispatch. */
export interface Step {
  pipe: GPUComputePipeline;
  group: GPUBindGroup;
  x: number;
  y: number;
  z: number;
  /** Kernel class (profile rows): embed, ln, qkv, append, attention, proj, fc, fc2, head, argmax, … */
  label: string;
}

/** One call shape's dispatches. */
export interface Plan {
  pre: Step[];
  layers: Step[][];
  post: Step[];
  /** Per layer: the number of its steps after which its new K/V rows (kvOut) are complete. */
  kvAt: number[];
}

/** A buffer or a window of one. */
export type Binding = GPUBuffer | GPUBufferBinding;

/** Pipelines and bind groups of one device, and the recording of dispatches. */
export class DispatchRecorder {
  private readonly pipes = new Map<string, GPUComputePipeline>();
  private groups = new Map<string, { key: readonly GPUBuffer[]; group: GPUBindGroup }>();

  constructor(private readonly dev: GPUDevice) {}

  /**
   * Records one dispatch of kernel `kind` (WGSL from `code`, compiled on first use) over `bufs`
   * (bindings 0..n-1) with grid [x, y, z]; `tag` separates bind groups of one kind (e.g. per layer).
   */
  dispatch(steps: Step[], d: { kind: string; code: () => string; bufs: Binding[]; grid: number[]; tag?: string; label: string }): void {
    let pipe = this.pipes.get(d.kind);
    if (pipe === undefined) {
      const module = this.dev.createShaderModule({ code: d.code() });
      pipe = this.dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipes.set(d.kind, pipe);
    }
    const key = d.bufs.map((b) => ('buffer' in b ? b.buffer : b));
    const gkey = `${d.kind}|${d.tag ?? d.kind}`;
    let g = this.groups.get(gkey);
    if (g === undefined || g.key.length !== key.length || g.key.some((b, i) => b !== key[i])) {
      const entries = d.bufs.map((b, i): GPUBindGroupEntry => ({ binding: i, resource: 'buffer' in b ? b : { buffer: b } }));
      g = { key, group: this.dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries }) };
      this.groups.set(gkey, g);
    }
    steps.push({ pipe, group: g.group, x: d.grid[0], y: d.grid[1] ?? 1, z: d.grid[2] ?? 1, label: d.label });
  }

  /** Forgets every bind group (after scratch buffers were replaced). */
  resetGroups(): void {
    this.groups = new Map();
  }
}

/** Encodes steps [from, to) into a compute pass (pipeline set only when it changes). */
export function encodeSteps(pass: GPUComputePassEncoder, steps: readonly Step[], from = 0, to = steps.length): void {
  let last: GPUComputePipeline | null = null;
  for (let i = from; i < to; i++) {
    const st = steps[i];
    if (st.pipe !== last) pass.setPipeline(st.pipe);
    last = st.pipe;
    pass.setBindGroup(0, st.group);
    pass.dispatchWorkgroups(st.x, st.y, st.z);
  }
}

/** All steps of a plan in order. */
export function planSteps(p: Plan): Step[] {
  return [...p.pre, ...p.layers.flat(), ...p.post];
}
