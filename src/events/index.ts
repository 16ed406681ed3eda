export * from './types.js';
export * from './envelope.js';
export * from './schema.js';
export * from './wire.js';
