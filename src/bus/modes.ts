/** How the NATS bus publishes (docs/bus.md); apart from nats.ts so the CLI's settings load without the NATS client. */
export type NatsMode = 'auto' | 'jetstream' | 'core';
export const NATS_MODES: readonly NatsMode[] = ['auto', 'jetstream', 'core'];
