export * from './types.js';
export * from './envelope.js';
