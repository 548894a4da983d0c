import {
  CONTAINER_FIELD_NAMES,
  containerFieldEntries,
  SyscallEvent,
  type ContainerMeta,
  type FieldKeyTable,
  type FieldValue,
  type PodMeta,
} from '../event/index.js';

/** Containers by id (full or 12 characters): the container runtime's cache. */
export interface ContainerDirectory {
  lookup(id: string): ContainerMeta | undefined;
  /** Changes whenever a lookup may answer differently. */
  readonly version: number;
  /** Calls `fn` after every listing (more containers may be known). */
  onList(fn: () => void): void;
}

/** Pods by UID, and containers by id from pod statuses: the Kubernetes API's cache. */
export interface PodDirectory {
  pod(uid: string): PodMeta | undefined;
  /** Changes whenever a lookup may answer differently. */
  readonly version: number;
  container(id: string): ContainerMeta | undefined;
  /** Calls `fn` after pods change. */
  onChange(fn: () => void): void;
}

/** What the enricher has done (a snapshot). */
export interface EnricherStats {
  /** Events that got container and pod fields. */
  enriched: number;
  /** Lookups of a container the runtime did not know (yet); an event may be looked up again while it waits. */
  misses: number;
}

/**
 * The enrich stage (decode → enrich → evaluate): an event in a container gets the container's
 * and pod's fields from the runtime's metadata, written into the event's slots before anyone else
 * sees it (the last step of decoding), without overwriting what its source already said
 * (Tetragon brings pod fields itself). Events of the host (`container.id` = `host`) pass as they
 * are. Each container's field slots and values are computed once and reused for its events.
 */
export class EventEnricher {
  readonly stats: EnricherStats = { enriched: 0, misses: 0 };
  /** Per container (by the id events carry): its metadata, and the slots and values it fills. */
  private readonly fill = new Map<
    string,
    {
      meta: ContainerMeta;
      pod: PodMeta | undefined;
      /** The caches' versions and the table's size when last checked: all equal, nothing to look up. */
      runtimeVersion: number;
      podsVersion: number;
      tableSize: number;
      slots: Int32Array;
      values: FieldValue[];
    }
  >();
  private readonly containerIdSlot: number;
  private readonly podNameSlot: number;

  constructor(
    private readonly table: FieldKeyTable,
    private readonly runtime: ContainerDirectory | undefined,
    private readonly pods?: PodDirectory,
  ) {
    for (const f of CONTAINER_FIELD_NAMES) table.intern(f);
    this.containerIdSlot = table.intern('container.id');
    this.podNameSlot = table.intern('k8s.pod.name');
  }

  /** {@link tryEnrich}, the event as it is when its container is unknown. */
  enrich(e: SyscallEvent): SyscallEvent {
    return this.tryEnrich(e) ?? e;
  }

  /** Calls `fn` after every listing of the runtime and every pod change (more containers may be known). */
  onUpdate(fn: () => void): void {
    this.runtime?.onList(fn);
    this.pods?.onChange(fn);
  }

  /** The event with its container's and pod's fields; the event itself when it has no container; undefined when the container is unknown. */
  tryEnrich(e: SyscallEvent): SyscallEvent | undefined {
    const cid = e.values[this.containerIdSlot];
    if (typeof cid !== 'string' || cid === '' || cid === 'host') return e;
    // Tetragon and other sources that bring pod fields themselves need nothing
    if (e.values[this.podNameSlot] !== undefined) return e;
    let f = this.fill.get(cid);
    const runtimeVersion = this.runtime?.version ?? 0;
    const podsVersion = this.pods?.version ?? 0;
    // one map read per event while nothing changed; otherwise look the container up again
    if (
      f === undefined ||
      f.runtimeVersion !== runtimeVersion ||
      f.podsVersion !== podsVersion ||
      f.tableSize !== this.table.size
    ) {
      // the runtime knows containers first; the API's pod statuses name them a little later
      const meta = this.runtime?.lookup(cid) ?? this.pods?.container(cid);
      if (!meta) {
        this.stats.misses++;
        return undefined;
      }
      const pod = meta.podUid !== undefined ? this.pods?.pod(meta.podUid) : undefined;
      if (f?.meta === meta && f.pod === pod && f.tableSize === this.table.size) {
        f.runtimeVersion = runtimeVersion;
        f.podsVersion = podsVersion;
      } else {
        // recomputed when either cache has a newer object for it, or the table grew (a reloaded
        // ruleset may read a label it did not before)
        const slots: number[] = [];
        const values: FieldValue[] = [];
        for (const [k, v] of containerFieldEntries(pod ? withPod(meta, pod) : meta)) {
          // keyed fields (a label, a mount) get a slot only when rules or outputs read them: pod
          // labels are chosen by whoever creates pods, and must not fill the field table
          const slot = k.includes('[') ? this.table.idOf(k) : this.table.intern(k);
          if (slot >= 0) {
            slots.push(slot);
            values.push(v);
          }
        }
        f = {
          meta,
          pod,
          runtimeVersion,
          podsVersion,
          tableSize: this.table.size,
          slots: Int32Array.from(slots),
          values,
        };
        if (this.fill.size >= 16_384) this.fill.clear(); // bounded: rebuilt on demand
        this.fill.set(cid, f);
      }
    }
    // the stage is part of decoding: the event is not shared yet, so its slots are filled in
    // place (no copy per event); slots beyond its length extend it
    const values = e.values as Array<SyscallEvent['values'][number]>;
    const { slots } = f;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (values[slot] === undefined) values[slot] = f.values[i];
    }
    this.stats.enriched++;
    return e;
  }
}

/** A container's metadata with its pod's from the API, which is newer where both speak (labels change after start). */
function withPod(meta: ContainerMeta, pod: PodMeta): ContainerMeta {
  const out: Record<string, unknown> = { ...meta };
  for (const [k, v] of Object.entries(pod)) if (v !== undefined) out[k] = v;
  return out as unknown as ContainerMeta;
}
